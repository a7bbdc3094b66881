use conformance::{Native, run};

/// One test per area, so a failure names the area and every failing vector in it.
fn play(area: &str) {
    match run(&mut Native, area) {
        Ok(n) => assert!(n > 0 || area == "normalize", "no vectors found in {area}"),
        Err(report) => panic!("{report}"),
    }
}

#[test]
fn reduce_vectors_pass_natively() {
    play("reduce");
}

#[test]
fn merge_vectors_pass_natively() {
    play("merge");
}

#[test]
fn suppress_vectors_pass_natively() {
    play("suppress");
}

#[test]
fn route_vectors_pass_natively() {
    play("route");
}

#[test]
fn dedupe_vectors_pass_natively() {
    play("dedupe");
}

#[test]
fn normalize_vectors_pass_natively() {
    play("normalize");
}

#[test]
fn webhook_vectors_pass_natively() {
    play("webhook");
}
