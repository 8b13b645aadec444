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

    /// The client's address: the peer's, or the one a trusted proxy forwarded.
    pub(crate) fn address(&self, req: &HttpRequest) -> Option<IpAddr> {
        if self.forwarded {
            let info = req.connection_info();
            let text = info.realip_remote_addr()?;
            // `ip:port`, `[v6]:port` or a bare address.
            return text
                .parse::<IpAddr>()
                .ok()
                .or_else(|| text.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
                .or_else(|| text.trim_start_matches('[').split(']').next()?.parse().ok());
        }
        req.peer_addr().map(|a| a.ip())
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
        let req = TestRequest::default()
            .peer_addr("10.0.0.9:80".parse().unwrap())
            .insert_header(("X-Forwarded-For", "203.0.113.7"))
            .to_http_request();
        assert_eq!(limits.address(&req), Some("203.0.113.7".parse().unwrap()));
        assert_eq!(ClientLimits::new(1, false).address(&req), Some("10.0.0.9".parse().unwrap()));
    }
}
