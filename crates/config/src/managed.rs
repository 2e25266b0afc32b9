//! AWS's managed cache policies and origin request policies, by name and by id.

/// A managed cache policy: name, id, and min/default/max TTL in seconds.
pub struct ManagedCachePolicy {
    pub name: &'static str,
    pub id: &'static str,
    pub min_ttl: u64,
    pub default_ttl: u64,
    pub max_ttl: u64,
}

pub const CACHE_POLICIES: &[ManagedCachePolicy] = &[
    ManagedCachePolicy {
        name: "CachingOptimized",
        id: "658327ea-f89d-4fab-a63d-7e88639e58f6",
        min_ttl: 1,
        default_ttl: 86_400,
        max_ttl: 31_536_000,
    },
    ManagedCachePolicy {
        name: "CachingOptimizedForUncompressedObjects",
        id: "b2884449-e4de-46a7-ac36-70bc7f1ddd6d",
        min_ttl: 1,
        default_ttl: 86_400,
        max_ttl: 31_536_000,
    },
    ManagedCachePolicy {
        name: "CachingDisabled",
        id: "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
        min_ttl: 0,
        default_ttl: 0,
        max_ttl: 0,
    },
    ManagedCachePolicy {
        name: "UseOriginCacheControlHeaders",
        id: "83da9c7e-98b4-4e11-a168-04f0df8e2c65",
        min_ttl: 0,
        default_ttl: 0,
        max_ttl: 31_536_000,
    },
    ManagedCachePolicy {
        name: "UseOriginCacheControlHeaders-QueryStrings",
        id: "4cc15a8a-d715-48a4-82b8-cc0b614638fe",
        min_ttl: 0,
        default_ttl: 0,
        max_ttl: 31_536_000,
    },
    ManagedCachePolicy {
        name: "Amplify",
        id: "2e54312d-136d-493c-8eb9-b001f22f67d2",
        min_ttl: 2,
        default_ttl: 2,
        max_ttl: 600,
    },
];

/// Managed origin request policies: (name, id).
pub const ORIGIN_REQUEST_POLICIES: &[(&str, &str)] = &[
    ("AllViewer", "216adef6-5c7f-47e4-b989-5492eafa07d3"),
    (
        "AllViewerExceptHostHeader",
        "b689b0a8-53d0-40ab-baf2-68738e2966ac",
    ),
    (
        "AllViewerAndCloudFrontHeaders-2022-06",
        "33f36d7e-f396-46d9-90e0-52428a34d9dc",
    ),
    ("CORS-CustomOrigin", "59781a5b-3903-41f3-afcb-af62929ccde1"),
    ("CORS-S3Origin", "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf"),
    (
        "UserAgentRefererHeaders",
        "acba4595-bd28-49b8-b9fe-13317c0390fa",
    ),
];

/// The managed cache policy named (or with the id) `key`.
pub fn cache_policy(key: &str) -> Option<&'static ManagedCachePolicy> {
    CACHE_POLICIES.iter().find(|p| p.name == key || p.id == key)
}

/// The canonical name of the managed origin request policy named (or with the id) `key`.
pub fn origin_request_policy(key: &str) -> Option<&'static str> {
    ORIGIN_REQUEST_POLICIES
        .iter()
        .find(|(n, id)| *n == key || *id == key)
        .map(|(n, _)| *n)
}
