//! Federation over TLS with a real nats-server that verifies its clients: nodes given the CA
//! (`--federation-tls-ca`) and a client certificate (`--federation-tls-cert`,
//! `--federation-tls-key`) federate; a node whose CA does not know the server's certificate,
//! and a node without a client certificate, never join: they log that NATS is not reachable,
//! refuse remote sends with `0x77`, and keep serving their local clients. The certificates are
//! made for each run (rcgen).
#![cfg(feature = "federation")]

use std::path::PathBuf;

use elbus::ErrorKind;
use elbus_suite::federation::{connect, next_message, node, nodes, sent, status, wait_node_up};
use elbus_suite::nats::NatsServer;
use elbus_suite::tempdir::TempDir;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

/// A CA, a server certificate for 127.0.0.1 and a client certificate it signed, and a second,
/// unrelated CA; all as PEM files.
struct Pki {
    dir: TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = TempDir::new("tls");
        let ca = issuer("elbus test CA");
        let other = issuer("another CA");
        let leaf = |name: &str, sans: Vec<String>| {
            let key = KeyPair::generate().expect("key");
            let cert = CertificateParams::new(sans)
                .expect("params")
                .signed_by(&key, &ca)
                .expect("signed");
            std::fs::write(dir.join(&format!("{name}.pem")), cert.pem()).expect("write");
            std::fs::write(dir.join(&format!("{name}.key")), key.serialize_pem()).expect("write");
        };
        leaf("server", vec!["127.0.0.1".into(), "localhost".into()]);
        leaf("client", vec!["elbus-node".into()]);
        std::fs::write(dir.join("ca.pem"), ca.as_ref().pem()).expect("write");
        std::fs::write(dir.join("other-ca.pem"), other.as_ref().pem()).expect("write");
        Pki { dir }
    }

    fn file(&self, name: &str) -> String {
        let path: PathBuf = self.dir.join(name);
        path.to_str().expect("UTF-8 temp path").to_owned()
    }
}

fn issuer(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_federate_over_tls_and_unverified_nodes_never_join() {
    let pki = Pki::new();
    let (ca, other_ca) = (pki.file("ca.pem"), pki.file("other-ca.pem"));
    let (cert, key) = (pki.file("client.pem"), pki.file("client.key"));
    let nats = NatsServer::start_with(&[
        "--tls",
        "--tlscert",
        &pki.file("server.pem"),
        "--tlskey",
        &pki.file("server.key"),
        "--tlsverify",
        "--tlscacert",
        &ca,
    ]);
    let trusted = [
        "--federation-tls-ca",
        ca.as_str(),
        "--federation-tls-cert",
        cert.as_str(),
        "--federation-tls-key",
        key.as_str(),
    ];
    let a = node(&nats.url(), "a", &trusted);
    let b = node(&nats.url(), "b", &trusted);
    let (_sink, mut sink_events) = connect(b.unix_path(), "sink").await;
    let (app, _) = connect(a.unix_path(), "app").await;
    wait_node_up(a.unix_path(), "b").await;
    sent(&app, "sink@b", b"over tls").await.unwrap();
    assert_eq!(
        next_message(&mut sink_events).await,
        ("app@a".to_owned(), b"over tls".to_vec())
    );

    let wrong_ca = node(
        &nats.url(),
        "c",
        &[
            "--federation-tls-ca",
            &other_ca,
            "--federation-tls-cert",
            &cert,
            "--federation-tls-key",
            &key,
        ],
    );
    let no_client_cert = node(&nats.url(), "d", &["--federation-tls-ca", &ca]);
    for (outsider, why) in [
        (&wrong_ca, "a CA that did not sign the server's certificate"),
        (&no_client_cert, "no client certificate"),
    ] {
        outsider.wait_for_log("NATS not reachable yet", 1);
        let path = outsider.unix_path();
        assert!(!status(path).await.connected, "connected with {why}");
        let (client, _) = connect(path, "app").await;
        let err = sent(&client, "sink@b", b"lost").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotDelivered, "{why}: {err}");
        let (_local, mut local_events) = connect(path, "local").await;
        sent(&client, "local", b"still local").await.unwrap();
        assert_eq!(
            next_message(&mut local_events).await,
            ("app".to_owned(), b"still local".to_vec())
        );
    }
    // The trusted nodes never heard of the outsiders.
    let known: Vec<String> = nodes(a.unix_path())
        .await
        .into_iter()
        .map(|n| n.node)
        .collect();
    assert_eq!(known, ["b"], "a knows {known:?}");
}
