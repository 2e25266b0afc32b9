vcl 4.1;
# Varnish as the edge peer (HTTP only: Varnish has no TLS): /images/ and /media/ cached with the
# TTL from the origin's Cache-Control, everything else passed; round-robin over three origins on
# the LB socket. One thread pool; keep-alive to the backends is Varnish's default.
import directors;

backend o1 { .host = "127.0.0.1"; .port = "{{O1}}"; }
backend o2 { .host = "127.0.0.1"; .port = "{{O2}}"; }
backend o3 { .host = "127.0.0.1"; .port = "{{O3}}"; }

sub vcl_init {
    new pool = directors.round_robin();
    pool.add_backend(o1);
    pool.add_backend(o2);
    pool.add_backend(o3);
}

sub vcl_recv {
    if (local.socket == "lb") {
        set req.backend_hint = pool.backend();
        return (pass);
    }
    set req.backend_hint = o1;
    if (req.url ~ "^/(images|media)/") {
        return (hash);
    }
    return (pass);
}

sub vcl_deliver {
    if (obj.hits > 0) { set resp.http.X-Cache-Status = "HIT"; } else { set resp.http.X-Cache-Status = "MISS"; }
}
