//! The VPC's DNS resolver (Amazon-provided DNS, Route 53 Resolver's VPC endpoint): at the
//! VPC's base + 2 (`172.31.0.2`), port 53, UDP and TCP, inside each VPC's router
//! namespace (`runtime::vpcnet::dns`), where the resolver controller (`control::dns`)
//! makes its sockets; [`serve`] answers on them.
//!
//! It is authoritative for the region's private domain (`ec2.internal`,
//! `<region>.compute.internal`) and for the reverse names of the VPC's CIDR, and answers
//! from `Service::vpc_dns` on every query: `A` of an instance's private DNS name is its
//! private address, `PTR` of that address is the name, other types of a known name
//! (`AAAA`: Shoal's VPCs are IPv4 only) are an empty `NOERROR`, unknown names
//! `NXDOMAIN`, both with the zone's `SOA`. The DNS name of each load balancer of the
//! VPC answers `A` records of its interfaces' private addresses (not authoritative, as
//! AWS's resolver answers them from ELB's public zone; other types are an empty
//! `NOERROR`). Every other name is `REFUSED`, load balancers' names of other VPCs and
//! deleted ones included (`elb.amazonaws.com` is not a zone here; the load balancer
//! listens on those addresses in the VPC's router namespace): nothing is
//! forwarded, as no packet of a VPC leaves the machine. An instance of another VPC is
//! not in this VPC's zone.
//!
//! The wire format is `hickory-proto`'s; malformed queries get `FORMERR` (or nothing,
//! when not even a header came), never a panic.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Weak};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, PTR, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

use crate::service::ec2::VpcDns;
use crate::service::Service;

/// The TTL of answers (AWS's private names answer with 60 s).
const TTL: u32 = 60;
/// A UDP answer without EDNS fits 512 bytes (RFC 1035); larger ones are truncated.
const UDP_MAX: usize = 512;
/// An idle TCP connection is closed after this long.
const TCP_IDLE: Duration = Duration::from_secs(10);
/// TCP connections served at once per VPC; more wait to be accepted.
const TCP_MAX: usize = 64;

/// The answer to the query `bytes` from the VPC's zone `zone` (`None`: the VPC is gone,
/// every name is refused). `None` when no answer is due (a response, or not a header).
pub fn answer(bytes: &[u8], zone: Option<&VpcDns>) -> Option<Vec<u8>> {
    let query = match Message::from_vec(bytes) {
        Ok(m) => m,
        Err(_) => {
            // A header with a query bit of 0: say it was malformed.
            if bytes.len() < 12 || bytes[2] & 0x80 != 0 {
                return None;
            }
            let id = u16::from_be_bytes([bytes[0], bytes[1]]);
            let op = OpCode::from_u8((bytes[2] >> 3) & 0x0f);
            let resp = Message::error_msg(id, op, ResponseCode::FormErr);
            return resp.to_vec().ok();
        }
    };
    if query.message_type() != MessageType::Query {
        return None;
    }
    let mut resp = Message::new();
    resp.set_id(query.id())
        .set_message_type(MessageType::Response)
        .set_op_code(query.op_code())
        .set_recursion_desired(query.recursion_desired())
        .set_recursion_available(true);
    if query.op_code() != OpCode::Query {
        resp.set_response_code(ResponseCode::NotImp);
        return resp.to_vec().ok();
    }
    let [q] = query.queries() else {
        resp.set_response_code(ResponseCode::FormErr);
        return resp.to_vec().ok();
    };
    resp.add_query(q.clone());
    let Some(zone) = zone else {
        resp.set_response_code(ResponseCode::Refused);
        return resp.to_vec().ok();
    };
    resolve(q, zone, &mut resp);
    resp.to_vec().ok()
}

/// Fills `resp` with the answer to `q` from `zone`.
fn resolve(q: &Query, zone: &VpcDns, resp: &mut Message) {
    let name = q.name().to_lowercase();
    let (Ok(domain), Ok(reverse)) =
        (Name::from_ascii(format!("{}.", zone.domain)), Name::from_ascii("in-addr.arpa."))
    else {
        resp.set_response_code(ResponseCode::ServFail);
        return;
    };
    let soa = |apex: &Name| {
        let rname = Name::from_ascii(format!("hostmaster.{apex}")).unwrap_or_else(|_| apex.clone());
        let soa = SOA::new(apex.clone(), rname, 1, 7200, 900, 1_209_600, TTL);
        Record::from_rdata(apex.clone(), TTL, RData::SOA(soa))
    };
    if domain.zone_of(&name) {
        resp.set_authoritative(true);
        let host = zone.hosts.iter().find(|(n, _)| {
            Name::from_ascii(format!("{n}.")).is_ok_and(|n| n.to_lowercase() == name)
        });
        match (host, q.query_type()) {
            (Some((_, ip)), RecordType::A | RecordType::ANY) => {
                resp.add_answer(Record::from_rdata(name, TTL, RData::A(A(*ip))));
            }
            (None, RecordType::SOA) if name == domain => {
                resp.add_answer(soa(&domain));
            }
            (Some(_), _) => {
                resp.add_name_server(soa(&domain));
            }
            (None, _) if name == domain => {
                resp.add_name_server(soa(&domain));
            }
            (None, _) => {
                resp.set_response_code(ResponseCode::NXDomain);
                resp.add_name_server(soa(&domain));
            }
        }
        return;
    }
    if reverse.zone_of(&name) {
        if let Some(ip) = reverse_ip(&name).filter(|ip| zone.cidr.contains(*ip)) {
            resp.set_authoritative(true);
            let apex = reverse_apex(zone);
            match zone.hosts.iter().find(|(_, a)| *a == ip) {
                Some((host, _)) if matches!(q.query_type(), RecordType::PTR | RecordType::ANY) => {
                    match Name::from_ascii(format!("{host}.")) {
                        Ok(target) => {
                            resp.add_answer(Record::from_rdata(name, TTL, RData::PTR(PTR(target))));
                        }
                        Err(_) => {
                            resp.set_response_code(ResponseCode::ServFail);
                        }
                    }
                }
                Some(_) => {
                    resp.add_name_server(soa(&apex));
                }
                None => {
                    resp.set_response_code(ResponseCode::NXDomain);
                    resp.add_name_server(soa(&apex));
                }
            }
            return;
        }
    }
    let lb = zone
        .load_balancers
        .iter()
        .find(|(n, _)| Name::from_ascii(format!("{n}.")).is_ok_and(|n| n.to_lowercase() == name));
    if let Some((_, addresses)) = lb {
        if matches!(q.query_type(), RecordType::A | RecordType::ANY) {
            for ip in addresses {
                resp.add_answer(Record::from_rdata(name.clone(), TTL, RData::A(A(*ip))));
            }
        }
        return;
    }
    resp.set_response_code(ResponseCode::Refused);
}

/// `5.0.31.172.in-addr.arpa.` → `172.31.0.5`; `None` for partial or odd names.
fn reverse_ip(name: &Name) -> Option<Ipv4Addr> {
    let labels: Vec<&[u8]> = name.iter().collect();
    let [d, c, b, a, _in_addr, _arpa] = labels[..] else { return None };
    let octet = |l: &[u8]| std::str::from_utf8(l).ok()?.parse::<u8>().ok();
    Some(Ipv4Addr::new(octet(a)?, octet(b)?, octet(c)?, octet(d)?))
}

/// The reverse zone of the VPC's CIDR, to the octet: `31.172.in-addr.arpa.` for a /16.
fn reverse_apex(zone: &VpcDns) -> Name {
    let octets = zone.cidr.base.octets();
    let whole = (zone.cidr.prefix / 8) as usize;
    let mut labels: Vec<String> = octets[..whole].iter().rev().map(|o| o.to_string()).collect();
    labels.extend(["in-addr".to_string(), "arpa".to_string()]);
    Name::from_labels(labels.iter().map(|l| l.as_bytes())).unwrap_or_else(|_| Name::root())
}

/// Fits `bytes` (a response) into a UDP datagram: past 512 bytes, the header and
/// question only, with TC set, so the client asks again over TCP.
fn for_udp(bytes: Vec<u8>) -> Vec<u8> {
    if bytes.len() <= UDP_MAX {
        return bytes;
    }
    match Message::from_vec(&bytes) {
        Ok(m) => {
            let mut t = m.truncate();
            t.set_truncated(true);
            t.to_vec().unwrap_or_default()
        }
        Err(_) => Vec::new(),
    }
}

/// The zone of `vpc_id`; `None` once the service or the VPC is gone.
fn zone_of(service: &Weak<Service>, vpc_id: &str) -> Option<VpcDns> {
    service.upgrade()?.vpc_dns(vpc_id)
}

/// Answers the VPC's queries on `udp` and `tcp` (made in its network by the resolver
/// controller) until the returned tasks are aborted.
pub fn serve(
    udp: std::net::UdpSocket,
    tcp: std::net::TcpListener,
    vpc_id: &str,
    service: Weak<Service>,
) -> std::io::Result<Vec<JoinHandle<()>>> {
    let (udp, tcp) =
        (tokio::net::UdpSocket::from_std(udp)?, tokio::net::TcpListener::from_std(tcp)?);
    let vpc = Arc::new(vpc_id.to_string());
    Ok(vec![
        tokio::spawn(serve_udp(udp, vpc.clone(), service.clone())),
        tokio::spawn(serve_tcp(tcp, vpc, service)),
    ])
}

async fn serve_udp(socket: tokio::net::UdpSocket, vpc: Arc<String>, service: Weak<Service>) {
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let zone = zone_of(&service, &vpc);
        if let Some(out) = answer(&buf[..n], zone.as_ref()) {
            let _ = socket.send_to(&for_udp(out), peer).await;
        }
    }
}

async fn serve_tcp(listener: tokio::net::TcpListener, vpc: Arc<String>, service: Weak<Service>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(TCP_MAX));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else { return };
        let Ok((stream, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let (vpc, service) = (vpc.clone(), service.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let _ = tcp_connection(stream, peer, &vpc, &service).await;
        });
    }
}

/// Length-prefixed messages (RFC 1035 4.2.2), one answer per query, until the client
/// closes or idles.
async fn tcp_connection(
    mut stream: tokio::net::TcpStream,
    _peer: SocketAddr,
    vpc: &str,
    service: &Weak<Service>,
) -> std::io::Result<()> {
    loop {
        let len = match tokio::time::timeout(TCP_IDLE, stream.read_u16()).await {
            Ok(r) => r? as usize,
            Err(_) => return Ok(()),
        };
        let mut buf = vec![0u8; len];
        tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut buf))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        let zone = zone_of(service, vpc);
        let Some(out) = answer(&buf, zone.as_ref()) else { continue };
        let Ok(n) = u16::try_from(out.len()) else { continue };
        stream.write_u16(n).await?;
        stream.write_all(&out).await?;
    }
}

#[cfg(test)]
mod tests {
    use shoal_model::ec2::Cidr;

    use super::*;

    fn zone() -> VpcDns {
        VpcDns {
            domain: "ec2.internal".into(),
            cidr: Cidr { base: Ipv4Addr::new(172, 31, 0, 0), prefix: 16 },
            hosts: vec![
                ("ip-172-31-0-5.ec2.internal".into(), Ipv4Addr::new(172, 31, 0, 5)),
                ("ip-172-31-16-9.ec2.internal".into(), Ipv4Addr::new(172, 31, 16, 9)),
            ],
            load_balancers: vec![(
                "web-1234567890.us-east-1.elb.amazonaws.com".into(),
                vec![Ipv4Addr::new(172, 31, 0, 6), Ipv4Addr::new(172, 31, 16, 4)],
            )],
        }
    }

    fn ask(name: &str, rtype: RecordType, zone: Option<&VpcDns>) -> Message {
        let mut q = Message::new();
        q.set_id(4242).set_recursion_desired(true);
        q.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
        let out = answer(&q.to_vec().unwrap(), zone).expect("an answer");
        let m = Message::from_vec(&out).unwrap();
        assert_eq!(m.id(), 4242);
        assert_eq!(m.message_type(), MessageType::Response);
        assert_eq!(m.queries().len(), 1);
        m
    }

    #[test]
    fn an_instance_name_answers_its_private_address_whatever_its_case() {
        let m = ask("IP-172-31-0-5.ec2.internal.", RecordType::A, Some(&zone()));
        assert_eq!(m.response_code(), ResponseCode::NoError);
        assert!(m.authoritative());
        assert_eq!(m.answers().len(), 1);
        assert_eq!(m.answers()[0].data(), &RData::A(A::new(172, 31, 0, 5)));
        assert_eq!(m.answers()[0].ttl(), TTL);
    }

    #[test]
    fn aaaa_of_a_known_name_is_empty_and_unknown_names_are_nxdomain_with_the_soa() {
        let m = ask("ip-172-31-0-5.ec2.internal.", RecordType::AAAA, Some(&zone()));
        assert_eq!(m.response_code(), ResponseCode::NoError);
        assert!(m.answers().is_empty());
        assert_eq!(m.name_servers()[0].record_type(), RecordType::SOA);
        // A name shaped like an instance's, of an address no instance of the VPC holds
        // (another VPC's instance, say).
        let m = ask("ip-172-31-0-99.ec2.internal.", RecordType::A, Some(&zone()));
        assert_eq!(m.response_code(), ResponseCode::NXDomain);
        assert!(m.answers().is_empty());
        assert_eq!(m.name_servers()[0].record_type(), RecordType::SOA);
        let m = ask("ec2.internal.", RecordType::SOA, Some(&zone()));
        assert_eq!(m.answers()[0].record_type(), RecordType::SOA);
    }

    #[test]
    fn reverse_names_in_the_vpc_answer_the_private_name() {
        let m = ask("9.16.31.172.in-addr.arpa.", RecordType::PTR, Some(&zone()));
        assert_eq!(m.response_code(), ResponseCode::NoError);
        let RData::PTR(PTR(target)) = m.answers()[0].data() else { panic!("{m:?}") };
        assert_eq!(target.to_string(), "ip-172-31-16-9.ec2.internal.");
        let m = ask("99.0.31.172.in-addr.arpa.", RecordType::PTR, Some(&zone()));
        assert_eq!(m.response_code(), ResponseCode::NXDomain);
        assert_eq!(m.name_servers()[0].name().to_string(), "31.172.in-addr.arpa.");
        // Outside the VPC's CIDR: not ours.
        let m = ask("1.0.0.10.in-addr.arpa.", RecordType::PTR, Some(&zone()));
        assert_eq!(m.response_code(), ResponseCode::Refused);
    }

    #[test]
    fn other_zones_are_refused_and_nothing_is_forwarded() {
        for name in ["example.com.", "my-lb-1.us-east-1.elb.amazonaws.com.", "ip-172-31-0-5."] {
            let m = ask(name, RecordType::A, Some(&zone()));
            assert_eq!(m.response_code(), ResponseCode::Refused, "{name}");
            assert!(m.answers().is_empty());
        }
        let m = ask("ip-172-31-0-5.ec2.internal.", RecordType::A, None);
        assert_eq!(m.response_code(), ResponseCode::Refused);
    }

    #[test]
    fn a_load_balancer_name_of_the_vpc_answers_its_interface_addresses() {
        let m = ask("Web-1234567890.us-east-1.ELB.amazonaws.com.", RecordType::A, Some(&zone()));
        assert_eq!(m.response_code(), ResponseCode::NoError);
        assert!(!m.authoritative());
        let got: Vec<&RData> = m.answers().iter().map(|r| r.data()).collect();
        assert_eq!(got, [&RData::A(A::new(172, 31, 0, 6)), &RData::A(A::new(172, 31, 16, 4))]);
        assert!(m.answers().iter().all(|r| r.ttl() == TTL));
        let m = ask("web-1234567890.us-east-1.elb.amazonaws.com.", RecordType::AAAA, Some(&zone()));
        assert_eq!(m.response_code(), ResponseCode::NoError);
        assert!(m.answers().is_empty());
        // Another load balancer's name (of another VPC, or deleted), and names around it.
        for name in [
            "web-1234567891.us-east-1.elb.amazonaws.com.",
            "x.web-1234567890.us-east-1.elb.amazonaws.com.",
            "us-east-1.elb.amazonaws.com.",
        ] {
            let m = ask(name, RecordType::A, Some(&zone()));
            assert_eq!(m.response_code(), ResponseCode::Refused, "{name}");
            assert!(m.answers().is_empty());
        }
    }

    #[test]
    fn garbage_never_panics_and_gets_formerr_or_nothing() {
        let z = zone();
        assert_eq!(answer(&[], Some(&z)), None);
        assert_eq!(answer(&[1, 2, 3], Some(&z)), None);
        // A header claiming one question that is not there.
        let out = answer(&[0xab, 0xcd, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0], Some(&z)).unwrap();
        let m = Message::from_vec(&out).unwrap();
        assert_eq!((m.id(), m.response_code()), (0xabcd, ResponseCode::FormErr));
        // A response is never answered (no loops between resolvers).
        let mut r = Message::new();
        r.set_message_type(MessageType::Response);
        assert_eq!(answer(&r.to_vec().unwrap(), Some(&z)), None);
        // Pseudo-random bytes, and every prefix and single-byte change of a good query.
        let mut good = Message::new();
        good.add_query(Query::query(
            Name::from_ascii("ip-172-31-0-5.ec2.internal.").unwrap(),
            RecordType::A,
        ));
        let good = good.to_vec().unwrap();
        for n in 0..good.len() {
            let _ = answer(&good[..n], Some(&z));
            for b in [0u8, 0x3f, 0xc0, 0xff] {
                let mut bad = good.clone();
                bad[n] = b;
                let _ = answer(&bad, Some(&z));
            }
        }
        let mut x: u32 = 0x1234_5678;
        for _ in 0..2000 {
            let len = (x % 300) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            if let Some(out) = answer(&bytes, Some(&z)) {
                assert!(out.len() <= u16::MAX as usize);
            }
        }
    }

    #[test]
    fn more_than_one_question_or_another_opcode_is_not_answered_as_a_query() {
        let mut q = Message::new();
        q.set_id(7);
        q.add_query(Query::query(Name::from_ascii("a.ec2.internal.").unwrap(), RecordType::A));
        q.add_query(Query::query(Name::from_ascii("b.ec2.internal.").unwrap(), RecordType::A));
        let m = Message::from_vec(&answer(&q.to_vec().unwrap(), Some(&zone())).unwrap()).unwrap();
        assert_eq!(m.response_code(), ResponseCode::FormErr);
        let mut q = Message::new();
        q.set_id(8).set_op_code(OpCode::Update);
        let m = Message::from_vec(&answer(&q.to_vec().unwrap(), Some(&zone())).unwrap()).unwrap();
        assert_eq!(m.response_code(), ResponseCode::NotImp);
    }

    #[test]
    fn a_large_answer_is_truncated_for_udp() {
        let big = vec![0u8; 600];
        assert!(for_udp(big).len() <= UDP_MAX);
        let small =
            ask("ip-172-31-0-5.ec2.internal.", RecordType::A, Some(&zone())).to_vec().unwrap();
        assert_eq!(for_udp(small.clone()), small);
    }
}
