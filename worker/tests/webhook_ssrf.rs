//! The webhook SSRF guard and delivery loop against a loopback receiver: internal addresses are
//! refused as literals, behind a host name (injected resolver: `internal.test -> 10.0.0.1`) and
//! behind redirects; allow-listed hosts pass; retries follow the status classes.
//!
//! No test here ever connects outside loopback: every internal target is refused before a
//! connection is made, which is what the tests pin.

use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use soyl_worker::webhook::{
    Deliverer, Event, Guard, GuardPolicy, Resolver, RetryPolicy, Secret, WebhookError,
};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A resolver from a fixed table; unknown names do not resolve.
struct MapResolver(HashMap<&'static str, IpAddr>);

#[async_trait::async_trait]
impl Resolver for MapResolver {
    async fn lookup(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        self.0
            .get(host)
            .map(|ip| vec![*ip])
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{host}: unknown")))
    }
}

fn resolver() -> Arc<dyn Resolver> {
    Arc::new(MapResolver(HashMap::from([
        ("hooks.test", IpAddr::V4(Ipv4Addr::LOCALHOST)),
        ("internal.test", IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
    ])))
}

/// http allowed, only `hooks.test` exempt from the address check.
fn guard() -> Guard {
    let policy = GuardPolicy {
        allow_http: true,
        allow_hosts: vec!["hooks.test".to_owned()],
    };
    Guard::new(policy, resolver())
}

fn deliverer(max_attempts: u32) -> Deliverer {
    let retry = RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(1),
        timeout: Duration::from_secs(5),
    };
    Deliverer::new(guard(), Secret::new("s3cret"), retry)
}

fn event() -> Event {
    Event {
        name: "job.succeeded".to_owned(),
        body: br#"{"id":"job"}"#.to_vec(),
    }
}

fn assert_refused(result: Result<impl std::fmt::Debug, WebhookError>, what: &str, addr: &str) {
    match result {
        Err(WebhookError::Refused { addr: got, .. }) => {
            assert_eq!(got.to_string(), addr, "{what}: refused address")
        }
        other => panic!("{what} should be refused as {addr}, got {other:?}"),
    }
}

async fn check(url: &str) -> Result<soyl_worker::webhook::ssrf::Target, WebhookError> {
    guard().check(&url.parse().expect("test URL")).await
}

#[tokio::test]
async fn guard_refuses_loopback_metadata_and_ipv6_loopback_literals() {
    assert_refused(
        check("http://127.0.0.1/hook").await,
        "IPv4 loopback",
        "127.0.0.1",
    );
    assert_refused(
        check("http://169.254.169.254/latest/meta-data").await,
        "metadata",
        "169.254.169.254",
    );
    assert_refused(check("http://[::1]/hook").await, "IPv6 loopback", "::1");
    assert_refused(
        check("https://[::ffff:169.254.169.254]/").await,
        "IPv4-mapped metadata",
        "::ffff:169.254.169.254",
    );
}

#[tokio::test]
async fn guard_refuses_a_name_that_resolves_to_a_private_address() {
    assert_refused(
        check("https://internal.test/hook").await,
        "internal.test",
        "10.0.0.1",
    );
}

#[tokio::test]
async fn guard_refuses_http_unless_allowed() {
    let strict = Guard::new(GuardPolicy::default(), resolver());
    let result = strict
        .check(&"http://hooks.test/".parse().expect("url"))
        .await;
    assert!(
        matches!(result, Err(WebhookError::InvalidUrl(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn guard_pins_an_allow_listed_name_to_its_checked_address() {
    let target = check("http://hooks.test:8080/hook").await.expect("allowed");
    let (host, addrs) = target.pin.expect("a name is pinned");
    assert_eq!(host, "hooks.test");
    assert_eq!(addrs, [SocketAddr::from(([127, 0, 0, 1], 8080))]);
}

#[tokio::test]
async fn delivery_to_a_loopback_literal_is_refused_without_retries() {
    for url in ["http://127.0.0.1:9/hook", "http://[::1]:9/hook"] {
        let outcome = deliverer(5).deliver(url, &event()).await;
        assert!(!outcome.delivered, "{url}: {outcome:?}");
        assert_eq!(outcome.attempts, 1, "{url}: refusals are final");
        assert!(
            outcome
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("loopback")),
            "{url}: {outcome:?}"
        );
    }
}

/// A receiver on 127.0.0.1 (reached as `hooks.test`) that redirects by path and counts hits.
struct Receiver {
    port: u16,
    hits: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let port = listener.local_addr().expect("receiver address").port();
        let hits = Arc::new(Mutex::new(Vec::new()));
        let seen = hits.clone();
        let app = axum::Router::new().fallback(move |uri: Uri| {
            let seen = seen.clone();
            async move {
                seen.lock().expect("hits lock").push(uri.path().to_owned());
                answer(uri.path(), port)
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { port, hits }
    }

    fn url(&self, path: &str) -> String {
        format!("http://hooks.test:{}{path}", self.port)
    }

    fn hits(&self) -> Vec<String> {
        self.hits.lock().expect("hits lock").clone()
    }
}

fn answer(path: &str, port: u16) -> Response {
    let redirect = |to: String| (StatusCode::FOUND, [(header::LOCATION, to)]).into_response();
    match path {
        "/ok" => StatusCode::OK.into_response(),
        "/to-ok" => redirect("/ok".to_owned()),
        "/to-metadata" => redirect("http://169.254.169.254/latest/meta-data".to_owned()),
        "/to-loopback" => redirect(format!("http://127.0.0.1:{port}/ok")),
        "/to-ipv6-loopback" => redirect(format!("http://[::1]:{port}/ok")),
        "/to-internal-name" => redirect("http://internal.test/ok".to_owned()),
        "/loop" => redirect("/loop".to_owned()),
        "/gone" => StatusCode::NOT_FOUND.into_response(),
        "/busy" => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        _ => StatusCode::IM_A_TEAPOT.into_response(),
    }
}

#[tokio::test]
async fn an_allow_listed_receiver_gets_the_webhook_through_a_redirect() {
    let receiver = Receiver::start().await;
    let outcome = deliverer(1)
        .deliver(&receiver.url("/to-ok"), &event())
        .await;
    assert!(outcome.delivered, "{outcome:?}");
    assert_eq!(outcome.last_status, Some(200));
    assert_eq!(outcome.url_host, "hooks.test");
    assert_eq!(receiver.hits(), ["/to-ok", "/ok"]);
}

#[tokio::test]
async fn redirects_to_internal_targets_are_refused() {
    let receiver = Receiver::start().await;
    for (path, addr) in [
        ("/to-metadata", "169.254.169.254"),
        ("/to-loopback", "127.0.0.1"),
        ("/to-ipv6-loopback", "::1"),
        ("/to-internal-name", "10.0.0.1"),
    ] {
        let outcome = deliverer(5).deliver(&receiver.url(path), &event()).await;
        assert!(!outcome.delivered, "{path}: {outcome:?}");
        assert_eq!(outcome.attempts, 1, "{path}: refusals are final");
        let error = outcome.last_error.unwrap_or_default();
        assert!(
            error.contains("refused") && error.contains(addr),
            "{path}: {error}"
        );
    }
    assert_eq!(
        receiver.hits(),
        [
            "/to-metadata",
            "/to-loopback",
            "/to-ipv6-loopback",
            "/to-internal-name"
        ],
        "only the redirecting hops reach a server"
    );
}

#[tokio::test]
async fn a_redirect_loop_stops_after_three_hops() {
    let receiver = Receiver::start().await;
    let outcome = deliverer(1).deliver(&receiver.url("/loop"), &event()).await;
    assert!(!outcome.delivered);
    assert!(
        outcome
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("redirects")),
        "{outcome:?}"
    );
    assert_eq!(receiver.hits().len(), 4, "the first request and three hops");
}

#[tokio::test]
async fn a_4xx_is_final_and_a_5xx_is_retried_up_to_max_attempts() {
    let receiver = Receiver::start().await;
    let gone = deliverer(3).deliver(&receiver.url("/gone"), &event()).await;
    assert_eq!(
        (gone.attempts, gone.last_status),
        (1, Some(404)),
        "{gone:?}"
    );
    let busy = deliverer(3).deliver(&receiver.url("/busy"), &event()).await;
    assert_eq!(
        (busy.attempts, busy.last_status),
        (3, Some(503)),
        "{busy:?}"
    );
    assert!(!busy.delivered);
}
