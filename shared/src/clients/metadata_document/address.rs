//! Which URLs may be fetched, and which addresses may be connected to (SSRF guards).

use super::*;

/// Checks the URL rules: https, a host, a path beyond `/`, no userinfo, no fragment, no
/// dot segments (which different parsers resolve differently).
pub fn validate_client_id_url(raw: &str) -> Result<Url, MetadataDocumentError> {
    let bad = |why: &str| MetadataDocumentError::BadUrl(why.to_owned());
    if raw.len() > 2000 {
        return Err(bad("longer than 2000 characters"));
    }
    let url = Url::parse(raw).map_err(|_| bad("not a URL"))?;
    if url.scheme() != "https" {
        return Err(bad("must be https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() || raw.contains('@') {
        return Err(bad("must not carry credentials"));
    }
    if raw.contains('#') {
        return Err(bad("must not have a fragment"));
    }
    let raw_path = raw.splitn(4, '/').nth(3).unwrap_or("");
    let raw_path = raw_path.split('?').next().unwrap_or("");
    if raw_path.is_empty() {
        return Err(bad("must have a path"));
    }
    let decoded = raw_path.replace("%2e", ".").replace("%2E", ".");
    if decoded
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Err(bad("must not contain dot segments"));
    }
    Ok(url)
}

/// Addresses a fetch may never reach: loopback, private, link-local (cloud metadata at
/// 169.254.169.254), shared, multicast, unspecified and documentation ranges.
pub fn is_public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let embedded = |high: u16, low: u16| {
                IpAddr::V4(std::net::Ipv4Addr::from(
                    (u32::from(high) << 16) | u32::from(low),
                ))
            };
            // Forms that carry an IPv4 address are judged by it: mapped (::ffff:a.b.c.d),
            // compatible (::a.b.c.d, also :: and ::1), 6to4 (2002:aabb:ccdd::) and Teredo
            // (2001:0::, the client's address inverted in the last 32 bits).
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_address(IpAddr::V4(v4));
            }
            if s[..6] == [0; 6] {
                return is_public_address(embedded(s[6], s[7]));
            }
            if s[0] == 0x2002 {
                return is_public_address(embedded(s[1], s[2]));
            }
            if s[0] == 0x2001 && s[1] == 0 {
                return is_public_address(embedded(s[2], s[3]))
                    && is_public_address(embedded(!s[6], !s[7]));
            }
            // Otherwise only global unicast (2000::/3), which leaves out unique-local,
            // link- and site-local, multicast and NAT64 (64:ff9b::/96), less documentation.
            (s[0] & 0xe000) == 0x2000 && !(s[0] == 0x2001 && s[1] == 0x0db8)
        }
    }
}
