//! The PROXY protocol, version 2 (HAProxy's `send-proxy-v2`): a balancer forwarding TCP
//! rather than HTTP prefixes each connection with a binary header naming the client's
//! address, since it cannot add `X-Forwarded-For`.
//!
//! Only a connection whose TCP peer is in `TRUSTED_PROXIES` is looked at, and only when it
//! starts with the v2 signature (`\r\n\r\n\0\r\nQUIT\n`, which no HTTP request starts with):
//! the header is read (at most [`MAX_HEADER_LEN`] bytes, within [`HEADER_TIMEOUT`]), removed,
//! and its source address stands in for the peer. A connection from a trusted peer without
//! the signature is plain HTTP, so a balancer can send health checks without a header. From
//! any other peer the stream goes to the HTTP parser untouched, where a header is not HTTP
//! and is answered 400: nobody else can choose their address this way. Version 1 (text)
//! headers are not accepted.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use ppp::v2::{Addresses, Command, Header, PROTOCOL_PREFIX};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// The fixed part of a v2 header: signature, version and command, family, length.
const FIXED_LEN: usize = 16;

/// The largest header accepted: addresses (at most 216 bytes, UNIX sockets) plus room for the
/// TLVs a balancer may add (unique id, TLS details). A longer one closes the connection.
pub const MAX_HEADER_LEN: usize = 2048;

/// How long a trusted peer may take to send its header (or the first bytes that show it
/// sends none), as long as the HTTP request itself may take (actix-web's
/// `client_request_timeout`).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// How long to wait before looking again when the first segment held only part of the fixed
/// header (never seen from a real balancer, which sends the header in one write).
const SPLIT_HEADER_PAUSE: Duration = Duration::from_millis(5);

/// Reads and removes a v2 header at the start of `io`, if there is one. `Ok(Some(source))`:
/// the client's address and port. `Ok(None)`: no header (the stream is untouched), or a
/// `LOCAL` header (the balancer's own connection, e.g. a health check) or one without an IP
/// source (removed): the TCP peer stands. `Err`: a header that is malformed, too long, or cut
/// off; the connection must be closed, since what follows cannot be told apart from the
/// header. Not bounded in time: see [`source_of_within`].
pub async fn source_of(io: &mut TcpStream) -> io::Result<Option<SocketAddr>> {
    let mut fixed = [0u8; FIXED_LEN];
    loop {
        let n = io.peek(&mut fixed).await?;
        if n == 0 {
            // Closed before sending anything: the HTTP side sees the same end.
            return Ok(None);
        }
        let seen = n.min(PROTOCOL_PREFIX.len());
        if fixed[..seen] != PROTOCOL_PREFIX[..seen] {
            return Ok(None);
        }
        if n == FIXED_LEN {
            break;
        }
        tokio::time::sleep(SPLIT_HEADER_PAUSE).await;
    }
    let len = FIXED_LEN + usize::from(u16::from_be_bytes([fixed[14], fixed[15]]));
    if len > MAX_HEADER_LEN {
        return Err(invalid(format!(
            "a PROXY protocol header of {len} bytes (at most {MAX_HEADER_LEN})"
        )));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    let header = Header::try_from(buf.as_slice())
        .map_err(|e| invalid(format!("a malformed PROXY protocol v2 header: {e}")))?;
    Ok(match (header.command, header.addresses) {
        (Command::Proxy, Addresses::IPv4(a)) => {
            Some(SocketAddr::from((a.source_address, a.source_port)))
        }
        (Command::Proxy, Addresses::IPv6(a)) => {
            Some(SocketAddr::from((a.source_address, a.source_port)))
        }
        _ => None,
    })
}

/// [`source_of`] within [`HEADER_TIMEOUT`]: a peer that sends nothing, or a header slowly, is
/// closed rather than left holding its connection slot.
pub async fn source_of_within(io: &mut TcpStream) -> io::Result<Option<SocketAddr>> {
    match tokio::time::timeout(HEADER_TIMEOUT, source_of(io)).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "no PROXY protocol header or request in time",
        )),
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    /// A v2 `PROXY` header over TCP from `src` to `dst`, written by hand (not by the parser's
    /// own builder) so that the parser is checked against the specification.
    fn v2_header(src: SocketAddr, dst: SocketAddr, tlvs: &[u8]) -> Vec<u8> {
        let mut h = PROTOCOL_PREFIX.to_vec();
        h.push(0x21); // version 2, PROXY
        let mut addrs = Vec::new();
        match (src, dst) {
            (SocketAddr::V4(s), SocketAddr::V4(d)) => {
                h.push(0x11); // TCP over IPv4
                addrs.extend(s.ip().octets());
                addrs.extend(d.ip().octets());
            }
            (SocketAddr::V6(s), SocketAddr::V6(d)) => {
                h.push(0x21); // TCP over IPv6
                addrs.extend(s.ip().octets());
                addrs.extend(d.ip().octets());
            }
            _ => unreachable!("one family"),
        }
        addrs.extend(src.port().to_be_bytes());
        addrs.extend(dst.port().to_be_bytes());
        addrs.extend(tlvs);
        h.extend((addrs.len() as u16).to_be_bytes());
        h.extend(addrs);
        h
    }

    /// Sends `chunks` (with a pause between them) on a fresh connection and returns what
    /// [`source_of`] made of it and what was left to read afterwards.
    async fn receive(chunks: Vec<Vec<u8>>) -> (io::Result<Option<SocketAddr>>, Vec<u8>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let mut c = TcpStream::connect(addr).await.unwrap();
            for chunk in chunks {
                c.write_all(&chunk).await.unwrap();
                c.flush().await.unwrap();
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
            c.shutdown().await.unwrap();
        });
        let (mut io, _) = listener.accept().await.unwrap();
        let result = source_of(&mut io).await;
        let mut rest = Vec::new();
        if result.is_ok() {
            io.read_to_end(&mut rest).await.unwrap();
        }
        client.await.unwrap();
        (result, rest)
    }

    const REQUEST: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

    #[tokio::test]
    async fn an_ipv4_header_names_the_source_and_is_removed() {
        let src: SocketAddr = "203.0.113.7:40000".parse().unwrap();
        let dst: SocketAddr = "10.0.0.5:8080".parse().unwrap();
        let mut bytes = v2_header(src, dst, &[]);
        bytes.extend(REQUEST);
        let (result, rest) = receive(vec![bytes]).await;
        assert_eq!(result.unwrap(), Some(src));
        assert_eq!(rest, REQUEST);
    }

    #[tokio::test]
    async fn an_ipv6_header_with_tlvs_names_the_source() {
        let src: SocketAddr = "[2001:db8::7]:40000".parse().unwrap();
        let dst: SocketAddr = "[2001:db8::1]:8080".parse().unwrap();
        // A NOOP TLV (type 4) of three bytes, as a balancer may pad with.
        let mut bytes = v2_header(src, dst, &[0x04, 0x00, 0x03, 1, 2, 3]);
        bytes.extend(REQUEST);
        let (result, rest) = receive(vec![bytes]).await;
        assert_eq!(result.unwrap(), Some(src));
        assert_eq!(rest, REQUEST);
    }

    #[tokio::test]
    async fn a_header_split_across_writes_is_read_whole() {
        let src: SocketAddr = "203.0.113.7:40000".parse().unwrap();
        let dst: SocketAddr = "10.0.0.5:8080".parse().unwrap();
        let bytes = v2_header(src, dst, &[]);
        let (a, b) = bytes.split_at(9);
        let (result, rest) = receive(vec![a.to_vec(), b.to_vec(), REQUEST.to_vec()]).await;
        assert_eq!(result.unwrap(), Some(src));
        assert_eq!(rest, REQUEST);
    }

    #[tokio::test]
    async fn plain_http_is_left_untouched() {
        let (result, rest) = receive(vec![REQUEST.to_vec()]).await;
        assert_eq!(result.unwrap(), None);
        assert_eq!(rest, REQUEST);
    }

    #[tokio::test]
    async fn a_local_header_leaves_the_peer_and_is_removed() {
        let mut bytes = PROTOCOL_PREFIX.to_vec();
        bytes.extend([0x20, 0x00, 0x00, 0x00]); // version 2, LOCAL, unspecified, no body
        bytes.extend(REQUEST);
        let (result, rest) = receive(vec![bytes]).await;
        assert_eq!(result.unwrap(), None);
        assert_eq!(rest, REQUEST);
    }

    #[tokio::test]
    async fn malformed_or_oversized_headers_are_errors() {
        let mut bad_version = PROTOCOL_PREFIX.to_vec();
        bad_version.extend([0x31, 0x11, 0x00, 0x0c]);
        bad_version.extend([0; 12]);
        let mut too_long = PROTOCOL_PREFIX.to_vec();
        too_long.extend([0x21, 0x11, 0xff, 0xff]);
        too_long.extend([0; 64]);
        let mut cut_off = PROTOCOL_PREFIX.to_vec();
        cut_off.extend([0x21, 0x11, 0x00, 0x0c, 1, 2]);
        let mut short_for_family = PROTOCOL_PREFIX.to_vec();
        short_for_family.extend([0x21, 0x11, 0x00, 0x04, 1, 2, 3, 4]);
        for bytes in [bad_version, too_long, cut_off, short_for_family] {
            let (result, _) = receive(vec![bytes.clone()]).await;
            assert!(result.is_err(), "{bytes:?}: {result:?}");
        }
    }
}
