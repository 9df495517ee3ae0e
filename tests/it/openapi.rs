//! `docs/openapi.yaml` against the server: every documented route exists, every request
//! example gets a documented answer whose body matches the documented schema, every example
//! matches its own schema, and the problem `type` slugs are exactly the ones the code has.
//!
//! Schemas are checked by a small validator for the JSON Schema subset the document uses
//! (below); a keyword it does not know fails the test, so the document cannot quietly use
//! one that is not checked.

use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::sync::atomic::Ordering;

use hyper::{Method, StatusCode};
use kori::http::{all_problem_types, problem_status};
use serde_json::{Map, Value, json};

use crate::http::{ADMIN, MemoryIntake, Reply, Server, config, raw_exchange, start};

const DOCUMENT: &str = include_str!("../../docs/openapi.yaml");

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The document, as JSON.
fn doc() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| serde_norway::from_str(DOCUMENT).expect("docs/openapi.yaml is not YAML"))
}

/// `value` with its `$ref` chain followed.
fn resolve(mut value: &Value) -> &Value {
    for _ in 0..16 {
        let Some(target) = value.get("$ref").and_then(Value::as_str) else {
            return value;
        };
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only local references are used: {target}"));
        value = doc()
            .pointer(pointer)
            .unwrap_or_else(|| panic!("dangling $ref {target}"));
    }
    panic!("$ref loop")
}

/// Every (path, method, operation) of the document.
fn operations() -> Vec<(&'static str, &'static str, &'static Value)> {
    let paths = doc()["paths"].as_object().expect("paths");
    let mut ops = Vec::new();
    for (path, item) in paths {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                ops.push((path.as_str(), method, op));
            }
        }
    }
    ops
}

/// The path with each `{param}` replaced by its documented example.
fn concrete_path(path: &str, op: &Value) -> String {
    let item = &doc()["paths"][path];
    let params = item["parameters"]
        .as_array()
        .into_iter()
        .chain(op["parameters"].as_array())
        .flatten()
        .map(resolve);
    let mut out = path.to_owned();
    for p in params.filter(|p| p["in"] == "path") {
        let name = p["name"].as_str().unwrap();
        let example = p["example"]
            .as_str()
            .unwrap_or_else(|| panic!("path parameter {name} has no example"));
        out = out.replace(&format!("{{{name}}}"), example);
    }
    assert!(
        !out.contains('{'),
        "{out}: a path parameter is undocumented"
    );
    out
}

/// The examples of a media type object: `example`, or each `examples.*.value`.
fn examples(media: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    if let Some(e) = media.get("example") {
        out.push(("example".to_owned(), e));
    }
    if let Some(map) = media.get("examples").and_then(Value::as_object) {
        for (name, e) in map {
            let e = resolve(e);
            out.push((name.clone(), e.get("value").expect("example without value")));
        }
    }
    out
}

// ---- the schema checker ------------------------------------------------------------------

/// Keywords that only describe; the checker skips them.
const ANNOTATIONS: &[&str] = &["description", "title", "default", "examples", "example"];

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        other => panic!("unknown type {other}"),
    }
}

/// Checks `value` against `schema`; each mismatch is pushed to `errors` with its JSON path.
fn check(schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(schema);
    let Some(keywords) = schema.as_object() else {
        panic!("schema at {at} is not an object: {schema}");
    };
    let fail = |errors: &mut Vec<String>, msg: String| errors.push(format!("{at}: {msg}"));
    for (keyword, arg) in keywords {
        match keyword.as_str() {
            k if ANNOTATIONS.contains(&k) => {}
            "type" => {
                let names: Vec<&str> = match arg {
                    Value::String(s) => vec![s.as_str()],
                    Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                    _ => panic!("bad type {arg}"),
                };
                if !names.iter().any(|n| type_matches(n, value)) {
                    fail(errors, format!("{value} is not of type {arg}"));
                }
            }
            "enum" => {
                if !arg.as_array().unwrap().contains(value) {
                    fail(errors, format!("{value} is not one of {arg}"));
                }
            }
            "const" => {
                if arg != value {
                    fail(errors, format!("{value} is not {arg}"));
                }
            }
            "required" => {
                if let Some(obj) = value.as_object() {
                    for name in arg.as_array().unwrap() {
                        let name = name.as_str().unwrap();
                        if !obj.contains_key(name) {
                            fail(errors, format!("missing {name}"));
                        }
                    }
                }
            }
            "properties" => {
                if let Some(obj) = value.as_object() {
                    for (name, sub) in arg.as_object().unwrap() {
                        if let Some(v) = obj.get(name) {
                            check(sub, v, &format!("{at}.{name}"), errors);
                        }
                    }
                }
            }
            "additionalProperties" => {
                assert_eq!(
                    arg,
                    &json!(false),
                    "only additionalProperties: false is used"
                );
                let known = keywords.get("properties").and_then(Value::as_object);
                if let Some(obj) = value.as_object() {
                    for name in obj.keys() {
                        if !known.is_some_and(|k| k.contains_key(name)) {
                            errors.push(format!("{at}: undocumented property {name}"));
                        }
                    }
                }
            }
            "items" => {
                if let Some(items) = value.as_array() {
                    for (i, v) in items.iter().enumerate() {
                        check(arg, v, &format!("{at}[{i}]"), errors);
                    }
                }
            }
            "minItems" | "maxItems" => {
                if let Some(items) = value.as_array() {
                    let bound = arg.as_u64().unwrap() as usize;
                    let ok = if keyword == "minItems" {
                        items.len() >= bound
                    } else {
                        items.len() <= bound
                    };
                    if !ok {
                        fail(
                            errors,
                            format!("{} items breaks {keyword} {bound}", items.len()),
                        );
                    }
                }
            }
            "minimum" | "maximum" => {
                if let (Some(v), Some(bound)) = (value.as_f64(), arg.as_f64()) {
                    let ok = if keyword == "minimum" {
                        v >= bound
                    } else {
                        v <= bound
                    };
                    if !ok {
                        fail(errors, format!("{v} breaks {keyword} {bound}"));
                    }
                }
            }
            "minLength" | "maxLength" => {
                if let Some(s) = value.as_str() {
                    let len = s.chars().count();
                    let bound = arg.as_u64().unwrap() as usize;
                    let ok = if keyword == "minLength" {
                        len >= bound
                    } else {
                        len <= bound
                    };
                    if !ok {
                        fail(errors, format!("{s:?} breaks {keyword} {bound}"));
                    }
                }
            }
            "pattern" => {
                if let Some(s) = value.as_str() {
                    let re = regex::Regex::new(arg.as_str().unwrap()).expect("bad pattern");
                    if !re.is_match(s) {
                        fail(errors, format!("{s:?} does not match {arg}"));
                    }
                }
            }
            "format" => {
                if let Some(s) = value.as_str() {
                    let ok = match arg.as_str().unwrap() {
                        "date-time" => s.parse::<jiff::Timestamp>().is_ok(),
                        "uri" => s.parse::<hyper::Uri>().is_ok_and(|u| u.scheme().is_some()),
                        other => panic!("unchecked format {other}"),
                    };
                    if !ok {
                        fail(errors, format!("{s:?} is not a {arg}"));
                    }
                }
            }
            "allOf" => {
                for sub in arg.as_array().unwrap() {
                    check(sub, value, at, errors);
                }
            }
            "oneOf" => {
                let passing = arg
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|sub| {
                        let mut e = Vec::new();
                        check(sub, value, at, &mut e);
                        e.is_empty()
                    })
                    .count();
                if passing != 1 {
                    fail(errors, format!("{value} matches {passing} of oneOf, not 1"));
                }
            }
            "$ref" => unreachable!("resolved above"),
            other => panic!("the checker does not know the keyword {other} (at {at})"),
        }
    }
}

#[track_caller]
fn assert_valid(schema: &Value, value: &Value, what: &str) {
    let mut errors = Vec::new();
    check(schema, value, "$", &mut errors);
    assert!(
        errors.is_empty(),
        "{what}: {value}\n  {}",
        errors.join("\n  ")
    );
}

/// Calls `f` on every schema-like object under `value` (anything holding `type`, `$ref`,
/// `allOf` or `oneOf`), with its pointer.
fn walk(value: &Value, at: &str, f: &mut dyn FnMut(&str, &Map<String, Value>)) {
    match value {
        Value::Object(obj) => {
            f(at, obj);
            for (k, v) in obj {
                walk(v, &format!("{at}/{k}"), f);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                walk(v, &format!("{at}/{i}"), f);
            }
        }
        _ => {}
    }
}

// ---- checking a live answer --------------------------------------------------------------

/// Checks that `reply` is documented for `method path`: its status, its media type, its body
/// against the schema, and the headers it carries. Returns the body.
#[track_caller]
fn assert_documented(path: &str, method: &str, reply: &Reply) -> Value {
    let op = &doc()["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not documented");
    let status = reply.status.as_str();
    let Some(response) = op["responses"].get(status).map(resolve) else {
        panic!(
            "{method} {path} answered {status}, which is not documented: {}",
            String::from_utf8_lossy(&reply.body)
        );
    };
    let media_type = reply
        .headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().trim())
        .expect("no content-type");
    let media = response["content"]
        .get(media_type)
        .unwrap_or_else(|| panic!("{method} {path} {status}: {media_type} is not documented"));
    let body: Value = serde_json::from_slice(&reply.body).expect("body is not JSON");
    assert_valid(
        &media["schema"],
        &body,
        &format!("{method} {path} {status} body"),
    );
    if let Some(kind) = body.get("type").and_then(Value::as_str) {
        if media_type == "application/problem+json" {
            assert_eq!(problem_status(kind), Some(reply.status), "{kind}");
        }
    }
    let documented = response.get("headers").and_then(Value::as_object);
    for (name, header) in documented.into_iter().flatten() {
        let header = resolve(header);
        match reply.headers.get(name.as_str()) {
            Some(v) => {
                let v = v.to_str().unwrap();
                let schema = &header["schema"];
                let value = if resolve(schema)["type"] == "integer" {
                    json!(v.parse::<i64>().expect("integer header"))
                } else {
                    json!(v)
                };
                assert_valid(schema, &value, &format!("{method} {path} {status} {name}"));
            }
            None => assert_ne!(header["required"], true, "{name} missing"),
        }
    }
    for name in ["retry-after", "www-authenticate", "idempotent-replayed"] {
        if reply.headers.contains_key(name) {
            assert!(
                documented.is_some_and(|d| d.keys().any(|k| k.eq_ignore_ascii_case(name))),
                "{method} {path} {status} sends {name}, which is not documented"
            );
        }
    }
    body
}

/// The request-body examples of an operation, as (name, JSON).
fn request_examples(op: &Value) -> Vec<(String, &Value)> {
    op.get("requestBody")
        .map(|rb| examples(&resolve(rb)["content"]["application/json"]))
        .unwrap_or_default()
}

async fn send(
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Reply {
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let body = body.map(|b| serde_json::to_vec(b).unwrap());
    server.request(method, path, token, &[], body).await
}

// ---- the tests -----------------------------------------------------------------------------

#[test]
fn document_is_openapi_3_1_and_every_reference_resolves() {
    let doc = doc();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
    walk(doc, "#", &mut |_, obj| {
        if obj.contains_key("$ref") {
            resolve(&Value::Object(obj.clone()));
        }
    });
    let documented: BTreeSet<(&str, &str)> =
        operations().iter().map(|(p, m, _)| (*p, *m)).collect();
    let expected: BTreeSet<(&str, &str)> = [
        ("/v1/messages", "post"),
        ("/v1/messages/batch", "post"),
        ("/v1/messages/{id}", "get"),
        ("/v1/messages/{id}", "delete"),
        ("/healthz", "get"),
        ("/readyz", "get"),
    ]
    .into();
    assert_eq!(documented, expected);
}

#[test]
fn every_example_matches_its_own_schema() {
    let mut seen = 0;
    for (path, method, op) in operations() {
        if let Some(rb) = op.get("requestBody") {
            let media = &resolve(rb)["content"]["application/json"];
            let ex = examples(media);
            assert!(
                !ex.is_empty(),
                "{method} {path}: request body without example"
            );
            for (name, e) in ex {
                assert_valid(
                    &media["schema"],
                    e,
                    &format!("{method} {path} request {name}"),
                );
                seen += 1;
            }
        }
        for (status, response) in op["responses"].as_object().unwrap() {
            let response = resolve(response);
            let content = response["content"].as_object();
            assert!(content.is_some(), "{method} {path} {status}: no content");
            for (media_type, media) in content.into_iter().flatten() {
                let ex = examples(media);
                assert!(!ex.is_empty(), "{method} {path} {status}: no example");
                for (name, e) in ex {
                    let what = format!("{method} {path} {status} {media_type} {name}");
                    assert_valid(&media["schema"], e, &what);
                    if let Some(kind) = e.get("type").and_then(Value::as_str) {
                        if media_type == "application/problem+json" {
                            let code = problem_status(kind).map(|s| s.as_u16().to_string());
                            assert_eq!(code.as_deref(), Some(status.as_str()), "{what}");
                        }
                    }
                    seen += 1;
                }
            }
            for (name, header) in response["headers"].as_object().into_iter().flatten() {
                let header = resolve(header);
                let e = header.get("example").expect("header without example");
                assert_valid(&header["schema"], e, &format!("header {name}"));
            }
        }
    }
    assert!(seen >= 25, "only {seen} examples");
    // Parameters, defaults and schema `examples` too.
    for p in doc()["components"]["parameters"]
        .as_object()
        .unwrap()
        .values()
    {
        assert_valid(
            &p["schema"],
            &p["example"],
            &format!("parameter {}", p["name"]),
        );
    }
    walk(doc(), "#", &mut |at, obj| {
        let schema = Value::Object(obj.clone());
        if obj.contains_key("type") && !at.ends_with("/properties") {
            if let Some(default) = obj.get("default") {
                assert_valid(&schema, default, &format!("default at {at}"));
            }
            for e in obj
                .get("examples")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                assert_valid(&schema, e, &format!("examples at {at}"));
            }
        }
    });
}

#[test]
fn problem_types_are_exactly_the_ones_the_code_has() {
    let schema = &doc()["components"]["schemas"]["ProblemType"];
    let documented: BTreeSet<&str> = schema["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let code: BTreeSet<&str> = all_problem_types().iter().copied().collect();
    assert_eq!(documented, code, "ProblemType enum vs ApiError::kind");
    // The table in the description gives each slug with the status the code sends.
    let table = schema["description"].as_str().unwrap();
    for kind in code {
        let status = problem_status(kind).unwrap().as_u16();
        assert!(
            table.contains(&format!("| `{kind}` | {status} |")),
            "ProblemType description: no row `{kind}` | {status}"
        );
    }
    // Every narrowed problem (a `type` enum beside a `status` const) agrees with the code.
    let mut narrowed = 0;
    walk(doc(), "#", &mut |at, obj| {
        let (Some(kinds), Some(status)) = (
            obj.get("type")
                .and_then(|t| t.get("enum"))
                .and_then(Value::as_array),
            obj.get("status")
                .and_then(|s| s.get("const"))
                .and_then(Value::as_u64),
        ) else {
            return;
        };
        for kind in kinds {
            let kind = kind.as_str().unwrap();
            assert_eq!(
                problem_status(kind).map(|s| u64::from(s.as_u16())),
                Some(status),
                "{at}: {kind}"
            );
        }
        narrowed += 1;
    });
    assert!(narrowed >= 10, "{narrowed}");
}

#[tokio::test]
async fn every_documented_route_exists_on_the_router() {
    let server = start(config(), MemoryIntake::default()).await;
    for (path, method, op) in operations() {
        let concrete = concrete_path(path, op);
        let body = (method == "post").then(|| json!({}));
        // Without a token: a /v1 route answers 401 (routing found it; the fallbacks answer
        // 404 or 405 without looking at the token), a probe answers as documented.
        let reply = send(&server, method, &concrete, None, body.as_ref()).await;
        let status = reply.status.as_u16();
        assert!(status != 404 && status != 405, "{method} {path}: {status}");
        if op.get("security") != Some(&json!([])) {
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        }
        assert_documented(path, method, &reply);
    }
    // A method a documented path does not have: 405 with a problem body.
    let wrong = send(&server, "put", "/v1/messages", Some(ADMIN), None).await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_valid(
        &doc()["components"]["schemas"]["Problem"],
        &serde_json::from_slice(&wrong.body).unwrap(),
        "405",
    );
    // Routes of the design that are not built yet answer 404, as the description says.
    for (method, path) in [
        ("post", "/v1/carts"),
        ("get", "/v1/stats"),
        ("post", "/v1/contacts/+358401234567/opt-out"),
        ("post", "/v1/webhooks/shopify/demo"),
        ("get", "/c/abc"),
    ] {
        let reply = send(&server, method, path, Some(ADMIN), None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert!(
            !DOCUMENT.contains(&format!("\n  {path}:")),
            "{path} is documented"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn request_examples_get_documented_answers() {
    let server = start(config(), MemoryIntake::default()).await;
    let mut ids = Vec::new();
    for (path, method, op) in operations() {
        for (name, example) in request_examples(op) {
            let reply = send(&server, method, path, Some(ADMIN), Some(example)).await;
            assert!(
                reply.status.is_success(),
                "{method} {path} example {name}: {} {}",
                reply.status,
                String::from_utf8_lossy(&reply.body)
            );
            let body = assert_documented(path, method, &reply);
            ids.extend(body["id"].as_str().map(str::to_owned));
        }
    }
    assert!(!ids.is_empty());
    // What was sent can be read back and cancelled, once.
    let path = "/v1/messages/{id}";
    for id in &ids {
        let at = format!("/v1/messages/{id}");
        let shown = send(&server, "get", &at, Some(ADMIN), None).await;
        assert_eq!(shown.status, StatusCode::OK);
        assert_documented(path, "get", &shown);
        let cancelled = send(&server, "delete", &at, Some(ADMIN), None).await;
        assert_eq!(cancelled.status, StatusCode::OK);
        assert_eq!(
            assert_documented(path, "delete", &cancelled)["state"],
            "cancelled"
        );
        let again = send(&server, "delete", &at, Some(ADMIN), None).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert_documented(path, "delete", &again);
    }
    // The documented id names no message here.
    let op = &doc()["paths"][path]["get"];
    let unknown = send(&server, "get", &concrete_path(path, op), Some(ADMIN), None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_documented(path, "get", &unknown);
    let bad_id = send(
        &server,
        "delete",
        "/v1/messages/not-an-id",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(bad_id.status, StatusCode::NOT_FOUND);
    assert_documented(path, "delete", &bad_id);
    server.stop().await;
}

#[tokio::test]
async fn error_answers_match_the_document() {
    let server = start(config(), MemoryIntake::default()).await;
    let one = json!({ "to": "+358401234567", "text": "hi" });
    let raw = serde_json::to_vec(&one).unwrap();
    let key_example = doc()["components"]["parameters"]["IdempotencyKey"]["example"]
        .as_str()
        .unwrap();
    for path in ["/v1/messages", "/v1/messages/batch"] {
        let body = if path.ends_with("batch") {
            serde_json::to_vec(&json!({ "messages": [one] })).unwrap()
        } else {
            raw.clone()
        };
        let post = |headers: &'static [(&'static str, &'static str)], body: Vec<u8>| {
            server.request(Method::POST, path, Some(ADMIN), headers, Some(body))
        };
        let cases: Vec<(u16, Reply)> = vec![
            (400, post(&[], b"{,".to_vec()).await),
            (
                422,
                post(&[], br#"{"to":"+358401234567","tx":1}"#.to_vec()).await,
            ),
            (422, post(&[("idempotency-key", "")], body.clone()).await),
            (
                415,
                server
                    .request(
                        Method::POST,
                        path,
                        Some(ADMIN),
                        &[("content-type", "text/plain")],
                        None,
                    )
                    .await,
            ),
        ];
        for (status, reply) in cases {
            assert_eq!(reply.status.as_u16(), status, "{path}");
            assert_documented(path, "post", &reply);
        }
        // Idempotency: a replay is documented (with its header), another body is 409.
        // Keys are per token: one per path, or the batch would reuse the single send's key.
        let path_key = format!("{key_example}{path}");
        let keyed = [("idempotency-key", path_key.as_str())];
        let first = server
            .request(Method::POST, path, Some(ADMIN), &keyed, Some(body.clone()))
            .await;
        assert_eq!(first.status, StatusCode::ACCEPTED);
        let replay = server
            .request(Method::POST, path, Some(ADMIN), &keyed, Some(body.clone()))
            .await;
        assert_eq!(replay.headers.get("idempotent-replayed").unwrap(), "true");
        assert_documented(path, "post", &replay);
        let mut other = body.clone();
        other.insert(1, b' ');
        let conflict = server
            .request(Method::POST, path, Some(ADMIN), &keyed, Some(other))
            .await;
        assert_eq!(conflict.status, StatusCode::CONFLICT);
        assert_documented(path, "post", &conflict);
        // 413, over a raw socket (the server answers before reading the whole body).
        let big =
            serde_json::to_vec(&json!({ "to": "+358401234567", "text": "a".repeat(1 << 21) }))
                .unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: kori\r\nauthorization: Bearer {ADMIN}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n",
            big.len()
        );
        let (status, problem) = raw_exchange(server.addr, head, big).await;
        assert_eq!(status, 413);
        let response = resolve(&doc()["paths"][path]["post"]["responses"]["413"]);
        assert_valid(
            &response["content"]["application/problem+json"]["schema"],
            &problem,
            "413",
        );
    }
    // A batch entry that fails stands in its slot, as documented.
    let batch = json!({ "messages": [one, { "to": "+358401234567", "text": "" }, 5] });
    let reply = send(
        &server,
        "post",
        "/v1/messages/batch",
        Some(ADMIN),
        Some(&batch),
    )
    .await;
    let body = assert_documented("/v1/messages/batch", "post", &reply);
    assert_eq!(body["results"][1]["error"]["type"], "empty-text");
    let empty = send(
        &server,
        "post",
        "/v1/messages/batch",
        Some(ADMIN),
        Some(&json!({ "messages": [] })),
    )
    .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_documented("/v1/messages/batch", "post", &empty);

    // 503: overloaded (with Retry-After), then a broken store; readiness reports it.
    server.intake.backlog.store(u64::MAX, Ordering::SeqCst);
    for path in ["/v1/messages", "/v1/messages/batch"] {
        let body = if path.ends_with("batch") {
            json!({ "messages": [one] })
        } else {
            one.clone()
        };
        let reply = send(&server, "post", path, Some(ADMIN), Some(&body)).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(reply.headers.contains_key("retry-after"));
        assert_eq!(
            assert_documented(path, "post", &reply)["type"],
            "overloaded"
        );
    }
    server.intake.backlog.store(0, Ordering::SeqCst);
    server.intake.store_broken.store(true, Ordering::SeqCst);
    let reply = send(&server, "post", "/v1/messages", Some(ADMIN), Some(&one)).await;
    assert_eq!(
        assert_documented("/v1/messages", "post", &reply)["type"],
        "store-unavailable"
    );
    server.intake.store_broken.store(false, Ordering::SeqCst);
    server
        .intake
        .carriers_down
        .lock()
        .unwrap()
        .push("elisa".into());
    let ready = send(&server, "get", "/readyz", None, None).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        assert_documented("/readyz", "get", &ready)["down"],
        json!(["elisa"])
    );
    server.stop().await;
}
