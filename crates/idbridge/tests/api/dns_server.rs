//! `TestDns`: a real, authoritative DNS server in the test process, on a loopback
//! port (UDP and TCP), serving the zone `test.` from memory. Tests publish and remove
//! TXT records while the idbridge under test (started with `--dns-resolver`) asks it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::Server;
use hickory_server::proto::rr::rdata::{SOA, TXT};
use hickory_server::proto::rr::{LowerName, Name, RData, Record, RecordType, RrKey};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use tokio::net::{TcpListener, UdpSocket};

const ZONE: &str = "test.";
/// Short, like a record a provider just published; idbridge must not cache it anyway.
const TTL: u32 = 60;

pub struct TestDns {
    pub addr: SocketAddr,
    zone: Arc<InMemoryZoneHandler>,
    /// Dropping the server aborts its tasks.
    _server: Server<Catalog>,
}

impl TestDns {
    pub async fn start() -> Self {
        let origin = Name::from_ascii(ZONE).expect("zone name");
        let mut zone: InMemoryZoneHandler =
            InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny);
        let soa = SOA::new(
            Name::from_ascii("ns.test.").expect("mname"),
            Name::from_ascii("hostmaster.test.").expect("rname"),
            1,
            3600,
            600,
            86400,
            0,
        );
        assert!(zone.upsert_mut(Record::from_rdata(origin.clone(), TTL, RData::SOA(soa)), 1));
        let zone = Arc::new(zone);
        let mut catalog = Catalog::new();
        catalog.upsert(
            LowerName::new(&origin),
            vec![Arc::clone(&zone) as Arc<dyn ZoneHandler>],
        );
        let (udp, tcp) = bind_pair().await;
        let addr = udp.local_addr().expect("udp addr");
        let mut server = Server::new(catalog);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 64);
        Self {
            addr,
            zone,
            _server: server,
        }
    }

    /// Publishes one TXT record at `name` made of these character-strings, beside any
    /// TXT records already there.
    pub async fn add_txt(&self, name: &str, strings: &[&str]) {
        let name = Name::from_ascii(format!("{name}.")).expect("record name");
        let txt = TXT::new(strings.iter().map(|s| (*s).to_owned()).collect());
        let serial = self.zone.serial().await + 1;
        assert!(
            self.zone
                .upsert(Record::from_rdata(name, TTL, RData::TXT(txt)), serial)
                .await,
            "TXT record not added"
        );
    }

    /// Removes every TXT record at `name`.
    pub async fn remove_txt(&self, name: &str) {
        let name = Name::from_ascii(format!("{name}.")).expect("record name");
        let key = RrKey::new(LowerName::new(&name), RecordType::TXT);
        self.zone.records_mut().await.remove(&key);
    }
}

/// A UDP socket and a TCP listener on the same free loopback port.
async fn bind_pair() -> (UdpSocket, TcpListener) {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").await.expect("bind udp");
        let port = udp.local_addr().expect("addr").port();
        if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)).await {
            return (udp, tcp);
        }
    }
    panic!("no loopback port free for both UDP and TCP");
}
