//! Verifications per second for every signature scheme, with bare hashes of the same body as
//! the baseline, so the figures read as ratios on any machine.
//!
//! Each case is the `valid` request of a conformance vector (tests/vectors/signature), with
//! its keys parsed once as a long-running edge worker would. Two more groups show what a
//! caller pays when it does not: parsing keys per request, and the whole `wire::call`
//! (JSON in, key parsing, JSON out).
//!
//!     cargo bench -p mailstate-core --bench verify

#![expect(clippy::unwrap_used, reason = "a benchmark on fixed, checked inputs")]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mailstate_core::{
    Headers, Provider, Timestamp,
    verify::{Keys, SignedRequest, VerifyOptions, verify},
};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// One valid request from a vector, with its key material parsed.
struct Case {
    name: &'static str,
    provider: Provider,
    vector: &'static str,
    body: Vec<u8>,
    headers: Headers,
    url: Option<String>,
    keys: Keys,
    now: Timestamp,
}

impl Case {
    fn new(name: &'static str, vector: &'static str) -> Case {
        let v: Value = serde_json::from_str(vector).unwrap();
        let input = &v["input"];
        let provider = input["provider"].as_str().unwrap().parse().unwrap();
        let headers: Headers = input["headers"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        let mut keys = Keys::new();
        for s in input["secrets"].as_array().into_iter().flatten() {
            keys = keys.with_secret(s.as_str().unwrap());
        }
        for k in input["keys"].as_array().into_iter().flatten() {
            keys = keys.with_public_key(k.as_str().unwrap()).unwrap();
        }
        let case = Case {
            name,
            provider,
            vector,
            body: input["body"].as_str().unwrap().as_bytes().to_vec(),
            headers,
            url: input["url"].as_str().map(str::to_owned),
            keys,
            now: Timestamp::from_millis(input["now"].as_i64().unwrap() * 1000).unwrap(),
        };
        assert!(case.verify().is_ok(), "{name}: the benchmarked request must be valid");
        case
    }

    fn verify(&self) -> Result<mailstate_core::verify::Verified, mailstate_core::Error> {
        let mut req = SignedRequest::new(&self.body, &self.headers);
        if let Some(url) = &self.url {
            req = req.with_url(url);
        }
        verify(self.provider, &req, &self.keys, self.now, &VerifyOptions::new())
    }
}

fn cases() -> Vec<Case> {
    macro_rules! v {
        ($p:literal) => {
            include_str!(concat!("../../tests/vectors/signature/", $p, ".json"))
        };
    }
    vec![
        Case::new("sendgrid_ecdsa_p256", v!("sendgrid/valid")),
        Case::new("sns_rsa_sha1", v!("ses/notification-v1")),
        Case::new("sns_rsa_sha256", v!("ses/notification-v2")),
        Case::new("mailgun_hmac_sha256", v!("mailgun/valid")),
        Case::new("svix_hmac_sha256", v!("resend/valid")),
        Case::new("mandrill_hmac_sha1", v!("mandrill/valid")),
        Case::new("mailersend_hmac_sha256", v!("mailersend/valid")),
        Case::new("postal_rsa_sha1", v!("postal/valid-sha1")),
        Case::new("postal_rsa_sha256", v!("postal/valid-sha256")),
        Case::new("basic_auth", v!("postmark/basic-auth-valid")),
    ]
}

fn bench(c: &mut Criterion) {
    let cases = cases();
    let mut g = c.benchmark_group("verify");
    g.throughput(Throughput::Elements(1));
    // Baselines: one bare hash of a typical body (the SES notification, the largest here).
    let body = &cases[1].body;
    g.bench_function("baseline_sha256_of_body", |b| b.iter(|| Sha256::digest(black_box(body))));
    for case in &cases {
        g.bench_function(case.name, |b| b.iter(|| black_box(case.verify()).unwrap()));
    }
    g.finish();

    let mut g = c.benchmark_group("parse_keys");
    g.throughput(Throughput::Elements(1));
    for (name, vector) in [("p256_spki", &cases[0]), ("rsa_certificate", &cases[1])] {
        let v: Value = serde_json::from_str(vector.vector).unwrap();
        let key = v["input"]["keys"][0].as_str().unwrap().to_owned();
        g.bench_function(name, |b| {
            b.iter(|| Keys::new().with_public_key(black_box(&key)).unwrap());
        });
    }
    g.finish();

    let mut g = c.benchmark_group("wire_call");
    g.throughput(Throughput::Elements(1));
    for case in &cases {
        let v: Value = serde_json::from_str(case.vector).unwrap();
        let input = serde_json::to_vec(&v["input"]).unwrap();
        g.bench_function(case.name, |b| {
            b.iter(|| mailstate_core::wire::call("verify", black_box(&input)));
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
