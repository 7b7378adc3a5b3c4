//! The WS-Discovery sockets: a one-shot Probe sent on every IPv4 interface (its answers come
//! back to the sending socket), and the group listener that hears cameras say Hello and Bye.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio::net::UdpSocket;

use super::wsd::{self, Endpoint, Message};

/// The IPv4 addresses of the interfaces that are up, loopback aside.
pub fn ipv4_interfaces() -> Vec<Ipv4Addr> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut out: Vec<Ipv4Addr> = addrs
        .filter(|a| {
            use nix::net::if_::InterfaceFlags as F;
            a.flags.contains(F::IFF_UP)
                && a.flags.contains(F::IFF_MULTICAST)
                && !a.flags.contains(F::IFF_LOOPBACK)
        })
        .filter_map(|a| a.address?.as_sockaddr_in().map(|s| s.ip()))
        .collect();
    out.sort();
    out.dedup();
    out
}

fn message_id() -> String {
    let b = crate::base::random::bytes(16).unwrap_or_else(|_| vec![7; 16]);
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "uuid:{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Sends a typed Probe, then an untyped one (some cameras answer only that), out of every
/// interface; answers are collected for `wait`. Keyed by endpoint URN, first answer wins.
pub async fn probe(wait: Duration) -> std::io::Result<Vec<Endpoint>> {
    let sock = UdpSocket::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))).await?;
    sock.set_multicast_ttl_v4(2)?;
    let group = SocketAddr::V4(SocketAddrV4::new(wsd::MULTICAST, wsd::PORT));
    let interfaces = ipv4_interfaces();
    for types in [Some("dn:NetworkVideoTransmitter"), None] {
        let msg = wsd::probe(&message_id(), types);
        for iface in &interfaces {
            SockRef::from(&sock).set_multicast_if_v4(iface)?;
            if let Err(e) = sock.send_to(msg.as_bytes(), group).await {
                tracing::debug!(%iface, error = %e, "WS-Discovery probe not sent");
            }
        }
    }
    let mut found: Vec<Endpoint> = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    let mut buf = vec![0u8; 65536];
    while let Ok(Ok((n, from))) = tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await
    {
        match wsd::parse(&buf[..n]) {
            Ok(Message::ProbeMatches(m)) => {
                for ep in m {
                    if !found.iter().any(|f| f.urn == ep.urn) {
                        found.push(ep);
                    }
                }
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(%from, error = %e, "not a WS-Discovery answer"),
        }
    }
    Ok(found)
}

/// The group's socket: bound to 3702 beside any other listener, joined on every interface.
pub struct Listener {
    sock: UdpSocket,
    joined: Vec<Ipv4Addr>,
}

impl Listener {
    pub fn bind() -> std::io::Result<Listener> {
        let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        s.set_reuse_address(true)?;
        s.set_reuse_port(true)?;
        s.set_nonblocking(true)?;
        s.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, wsd::PORT)).into())?;
        let mut l = Listener {
            sock: UdpSocket::from_std(s.into())?,
            joined: Vec::new(),
        };
        l.join_new();
        Ok(l)
    }

    /// Joins the group on interfaces that came up since (a late DHCP lease, a new link).
    pub fn join_new(&mut self) {
        for iface in ipv4_interfaces() {
            if !self.joined.contains(&iface) {
                match self.sock.join_multicast_v4(wsd::MULTICAST, iface) {
                    Ok(()) => self.joined.push(iface),
                    Err(e) => tracing::debug!(%iface, error = %e, "WS-Discovery group not joined"),
                }
            }
        }
    }

    pub async fn next(&self) -> std::io::Result<(Message, SocketAddr)> {
        let mut buf = vec![0u8; 65536];
        loop {
            let (n, from) = self.sock.recv_from(&mut buf).await?;
            if let Ok(m) = wsd::parse(&buf[..n]) {
                return Ok((m, from));
            }
        }
    }
}
