use conformance::{Native, run};

/// One test per area, so a failure names the area and every failing vector in it.
fn play(area: &str) {
    match run(&mut Native, area) {
        Ok(n) => assert!(n > 0, "no vectors found in {area}"),
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

#[test]
fn sync_vectors_pass_natively() {
    play("sync");
}

#[test]
fn signature_vectors_pass_natively() {
    play("signature");
}

#[test]
fn types_vectors_pass_natively() {
    play("types");
}

/// No rejected request's error message contains a configured secret or a presented
/// signature or credential (issue 4: "never echo a secret or a computed signature").
#[test]
fn signature_errors_never_echo_secrets() {
    let mut checked = 0;
    for v in conformance::load("signature") {
        let envelope = mailstate_core::wire::call(v.op(), &v.input_bytes());
        let out: serde_json::Value = serde_json::from_slice(&envelope).unwrap();
        let Some(message) = out.pointer("/error/message").and_then(|m| m.as_str()) else {
            continue;
        };
        let input = &v.doc["input"];
        let secrets = input["secrets"].as_array().into_iter().flatten();
        let presented = input["headers"].as_object().into_iter().flatten().filter_map(|(k, v)| {
            let k = k.to_ascii_lowercase();
            (k.contains("signature") || k.contains("authorization") || k.contains("token"))
                .then_some(v)
        });
        for s in secrets.chain(presented).filter_map(|s| s.as_str()) {
            for part in s.split([' ', ',']).filter(|p| p.len() >= 8) {
                assert!(!message.contains(part), "{}: message echoes {part:?}", v.path.display());
            }
        }
        checked += 1;
    }
    assert!(checked > 50, "only {checked} rejected vectors");
}

/// The `normalize` op writes its answer straight from borrowed events; its bytes must be the
/// bytes it gave when the output went through a `serde_json::Value` (objects with ordered keys),
/// which every other runtime's runner compares against.
#[test]
fn normalize_answers_the_same_bytes_as_through_a_value_tree() {
    use mailstate_core::{Headers, Payload, Provider, detect, normalize, wire};
    use serde_json::{Value, json};

    let vectors = conformance::load("normalize");
    assert!(vectors.len() > 100, "{} vectors", vectors.len());
    let mut compared = 0;
    for v in &vectors {
        let input = &v.doc["input"];
        let Some(body) = input["body"].as_str() else { continue };
        let mut headers = Headers::new();
        for (name, value) in input["headers"].as_object().into_iter().flatten() {
            headers.push(name, value.as_str().unwrap_or_default());
        }
        let slug = input["provider"].as_str().unwrap_or_default();
        let provider: Provider = if slug == "auto" {
            match detect(&headers, body.as_bytes()) {
                Ok(p) => p,
                Err(_) => continue,
            }
        } else {
            match slug.parse() {
                Ok(p) => p,
                Err(_) => continue,
            }
        };
        let Ok(out) = normalize(provider, Payload { body: body.as_bytes(), headers: &headers })
        else {
            continue;
        };
        let object = |e: &mailstate_core::Error| -> Value {
            let envelope: Value = serde_json::from_slice(&wire::error_envelope(e)).unwrap();
            envelope["error"].clone()
        };
        let errors: Vec<Value> = out.errors.iter().map(object).collect();
        let tree =
            json!({"output": {"events": out.events, "errors": errors, "control": out.control}});
        let direct = String::from_utf8(wire::call("normalize", &v.input_bytes())).unwrap();
        assert_eq!(direct, serde_json::to_string(&tree).unwrap(), "{}", v.path.display());
        compared += 1;
    }
    assert!(compared > 100, "{compared} compared");
}

/// `conformance::AREAS` is exactly the folders of the corpus, so a suite that plays every area
/// in it plays every vector.
#[test]
fn every_folder_of_the_corpus_is_a_known_area() {
    let mut folders: Vec<String> = std::fs::read_dir(conformance::vectors_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    assert_eq!(folders, conformance::AREAS);
}
