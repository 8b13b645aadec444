//! What one client may hold of the server at once: requests in progress per address (a
//! half-sent body, a change stream), so that one address cannot take every connection,
//! socket and buffer while others wait.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use actix_web::HttpRequest;

/// Requests one address may have in progress at once, by default.
pub const DEFAULT_REQUESTS_PER_ADDRESS: u32 = 64;

/// Requests in progress, by client address.
#[derive(Debug)]
pub(crate) struct ClientLimits {
    per_address: u32,
    /// Whether the client's address is the one `Forwarded` / `X-Forwarded-For` names (behind
    /// a proxy the application trusts), or the connection's peer.
    forwarded: bool,
    in_progress: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

/// One request in progress; dropped with the request (a change stream keeps it while open).
#[derive(Debug)]
pub(crate) struct AddressPermit {
    address: IpAddr,
    in_progress: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

impl ClientLimits {
    pub(crate) fn new(per_address: u32, forwarded: bool) -> Self {
        Self { per_address, forwarded, in_progress: Arc::default() }
    }

    /// The client's address: the peer's, or the one the trusted proxy in front of the server
    /// forwarded: the last `for=` of `Forwarded`, else the last entry of `X-Forwarded-For`
    /// (proxies append to them; the entries before the last are whatever the client wrote).
    /// The peer's when neither names an address.
    pub(crate) fn address(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr().map(|a| a.ip());
        if !self.forwarded {
            return peer;
        }
        let last = |name: &str| {
            let values: Vec<&str> = req.headers().get_all(name).filter_map(|v| v.to_str().ok()).collect();
            values.last().and_then(|v| v.rsplit(',').next()).map(str::trim).map(str::to_owned)
        };
        let forwarded = last("forwarded").and_then(|element| {
            element.split(';').find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                key.trim().eq_ignore_ascii_case("for").then(|| value.trim().trim_matches('"').to_owned())
            })
        });
        forwarded.or_else(|| last("x-forwarded-for")).and_then(|text| parse_address(&text)).or(peer)
    }

    /// A permit for one more request from `req`'s address, or `None` when it has as many in
    /// progress as it may. A request without an address (a test request) is not counted.
    pub(crate) fn enter(&self, req: &HttpRequest) -> Result<Option<AddressPermit>, ()> {
        let Some(address) = self.address(req) else { return Ok(None) };
        let Ok(mut in_progress) = self.in_progress.lock() else { return Ok(None) };
        let n = in_progress.entry(address).or_insert(0);
        if *n >= self.per_address {
            return Err(());
        }
        *n += 1;
        Ok(Some(AddressPermit { address, in_progress: Arc::clone(&self.in_progress) }))
    }
}

/// `ip`, `ip:port`, `[v6]` or `[v6]:port`.
fn parse_address(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| text.strip_prefix('[')?.split(']').next()?.parse().ok())
}

impl Drop for AddressPermit {
    fn drop(&mut self) {
        if let Ok(mut in_progress) = self.in_progress.lock()
            && let Some(n) = in_progress.get_mut(&self.address)
        {
            *n -= 1;
            if *n == 0 {
                in_progress.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn an_address_holds_at_most_its_share_and_gets_it_back() {
        let limits = ClientLimits::new(2, false);
        let from = |ip: &str| TestRequest::default().peer_addr(format!("{ip}:1234").parse().unwrap()).to_http_request();
        let a = limits.enter(&from("10.0.0.1")).unwrap();
        let b = limits.enter(&from("10.0.0.1")).unwrap();
        assert!(limits.enter(&from("10.0.0.1")).is_err());
        // Another address is not held back.
        assert!(limits.enter(&from("10.0.0.2")).unwrap().is_some());
        drop(a);
        assert!(limits.enter(&from("10.0.0.1")).is_ok());
        drop(b);
        assert!(limits.in_progress.lock().unwrap().is_empty());
        // Without an address (a test request), nothing is counted.
        assert!(limits.enter(&TestRequest::default().to_http_request()).unwrap().is_none());
    }

    #[test]
    fn behind_a_trusted_proxy_the_forwarded_address_counts() {
        let limits = ClientLimits::new(1, true);
        let peer = "10.0.0.9:80".parse().unwrap();
        // The proxy appended the address it saw; what came before is the client's own writing.
        let req = TestRequest::default()
            .peer_addr(peer)
            .insert_header(("X-Forwarded-For", "1.2.3.4, 203.0.113.7"))
            .to_http_request();
        assert_eq!(limits.address(&req), Some("203.0.113.7".parse().unwrap()));
        assert_eq!(ClientLimits::new(1, false).address(&req), Some("10.0.0.9".parse().unwrap()));
        let req = TestRequest::default()
            .peer_addr(peer)
            .insert_header(("Forwarded", "for=1.2.3.4, for=\"[2001:db8::1]:4711\";proto=https"))
            .to_http_request();
        assert_eq!(limits.address(&req), Some("2001:db8::1".parse().unwrap()));
        // An address the proxy hid is the peer's: never uncounted.
        let req = TestRequest::default().peer_addr(peer).insert_header(("Forwarded", "for=unknown")).to_http_request();
        assert_eq!(limits.address(&req), Some("10.0.0.9".parse().unwrap()));
    }
}
