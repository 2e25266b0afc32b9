//! Where a viewer is: a configured map from source addresses to locations (one machine has no
//! geography), and the continent of every country.

use edgeway_config::GeoSource;
use ipnet::IpNet;
use std::net::IpAddr;

/// A viewer's location, as precise as the map says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Location {
    pub(crate) continent: Option<String>,
    pub(crate) country: Option<String>,
    pub(crate) subdivision: Option<String>,
}

/// Source address blocks to locations; the longest matching prefix wins.
#[derive(Debug, Clone, Default)]
pub(crate) struct GeoMap {
    entries: Vec<(IpNet, Location)>,
}

impl GeoMap {
    /// Builds the map, leaving out (and reporting) entries whose block does not parse.
    pub(crate) fn new(sources: &[GeoSource], problems: &mut Vec<String>) -> Self {
        let mut entries = Vec::new();
        for g in sources {
            let net = match g.cidr.parse::<IpNet>() {
                Ok(n) => n,
                Err(_) => match g.cidr.parse::<IpAddr>() {
                    Ok(ip) => IpNet::from(ip),
                    Err(_) => {
                        problems.push(format!("dns.geo: {:?} is not a CIDR block", g.cidr));
                        continue;
                    }
                },
            };
            let country = g.country.as_ref().map(|c| c.to_ascii_uppercase());
            let continent = g
                .continent
                .as_ref()
                .map(|c| c.to_ascii_uppercase())
                .or_else(|| {
                    country
                        .as_deref()
                        .and_then(continent_of)
                        .map(str::to_string)
                });
            let subdivision = g.subdivision.as_ref().map(|s| s.to_ascii_uppercase());
            entries.push((
                net.trunc(),
                Location {
                    continent,
                    country,
                    subdivision,
                },
            ));
        }
        Self { entries }
    }

    /// The location of `source`, when a block covers it.
    pub(crate) fn locate(&self, source: IpAddr) -> Option<&Location> {
        let source = source.to_canonical();
        self.entries
            .iter()
            .filter(|(net, _)| net.contains(&source))
            .max_by_key(|(net, _)| net.prefix_len())
            .map(|(_, l)| l)
    }
}

const CONTINENTS: &[(&str, &str)] = &[
    ("AF", "DZ AO BJ BW BF BI CV CM CF TD KM CG CD CI DJ EG GQ ER SZ ET GA GM GH GN GW KE LS LR LY MG MW ML MR MU YT MA MZ NA NE NG RE RW SH ST SN SC SL SO ZA SS SD TZ TG TN UG EH ZM ZW"),
    ("AN", "AQ BV GS HM TF"),
    ("AS", "AF AM AZ BH BD BT BN KH CN CY GE HK IN ID IR IQ IL JP JO KZ KW KG LA LB MO MY MV MN MM NP KP OM PK PS PH QA SA SG KR LK SY TW TJ TH TL TR TM AE UZ VN YE IO CC CX"),
    ("EU", "AX AL AD AT BY BE BA BG HR CZ DK EE FO FI FR DE GI GR GG HU IS IE IM IT JE XK LV LI LT LU MT MD MC ME NL MK NO PL PT RO RU SM RS SK SI ES SJ SE CH UA GB VA"),
    ("NA", "AI AG AW BS BB BZ BM BQ VG CA KY CR CU CW DM DO SV GL GD GP GT HT HN JM MQ MX MS NI PA PR BL KN LC MF PM VC SX TT TC US VI UM"),
    ("OC", "AS AU CK FJ PF GU KI MH FM NR NC NZ NU NF MP PW PG PN WS SB TK TO TV VU WF"),
    ("SA", "AR BO BR CL CO EC FK GF GY PY PE SR UY VE"),
];

/// The continent code of a two-letter country code (Route 53's continents).
pub(crate) fn continent_of(country: &str) -> Option<&'static str> {
    let cc = country.to_ascii_uppercase();
    CONTINENTS
        .iter()
        .find(|(_, list)| list.split(' ').any(|c| c == cc))
        .map(|(ct, _)| *ct)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(cidr: &str, country: Option<&str>, sub: Option<&str>) -> GeoSource {
        GeoSource {
            cidr: cidr.into(),
            continent: None,
            country: country.map(Into::into),
            subdivision: sub.map(Into::into),
        }
    }

    #[test]
    fn continents() {
        for (c, want) in [
            ("US", Some("NA")),
            ("de", Some("EU")),
            ("JP", Some("AS")),
            ("BR", Some("SA")),
            ("AU", Some("OC")),
            ("ZA", Some("AF")),
            ("ZZ", None),
        ] {
            assert_eq!(continent_of(c), want, "{c}");
        }
    }

    #[test]
    fn longest_prefix_wins() {
        let mut problems = Vec::new();
        let map = GeoMap::new(
            &[
                src("127.0.0.0/8", Some("US"), None),
                src("127.0.0.2/32", Some("US"), Some("WA")),
                src("::1", Some("DE"), None),
                src("nope", None, None),
            ],
            &mut problems,
        );
        assert_eq!(problems.len(), 1);
        let at = |ip: &str| {
            map.locate(ip.parse().unwrap_or(IpAddr::from([0, 0, 0, 0])))
                .cloned()
        };
        let us = Location {
            continent: Some("NA".into()),
            country: Some("US".into()),
            subdivision: None,
        };
        assert_eq!(at("127.0.0.1"), Some(us.clone()));
        assert_eq!(
            at("127.0.0.2").and_then(|l| l.subdivision),
            Some("WA".into())
        );
        assert_eq!(at("::ffff:127.0.0.9"), Some(us));
        assert_eq!(at("::1").and_then(|l| l.continent), Some("EU".into()));
        assert_eq!(at("10.0.0.1"), None);
    }
}
