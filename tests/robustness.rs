//! Hostile input, contention and limits (issue 9): no request stalls the server, a client's
//! mistake is never a 5xx, nothing is lost or half-written, and limits are on by default.

use std::time::{Duration, Instant};

use actix_web::http::{Method, StatusCode};
use futures_util::future::join_all;
use persisted_model::filter::FilterLimits;
use serde_json::{Value, json};

use crate::support::{Backend, Settings, TestApp, on_each_backend, on_each_backend_with, on_each_backend_with_auth, q};

/// 20 parallel two-item signups and 20 parallel two-item token creates, with a side read
/// that must answer within a second, on pools of one and two connections. (The acquire
/// timeout is raised so that a machine busy with other tests queues the writes rather than
/// answering 503: what is checked is that nothing deadlocks.)
#[actix_web::test]
async fn parallel_batches_do_not_stall_the_pool() {
    for pool in [1, 2] {
        let settings = Settings {
            auth: true,
            pool: Some(pool),
            acquire_timeout: Some(Duration::from_secs(20)),
            ..Settings::default()
        };
        on_each_backend_with(settings, |t| async move {
            let alice = t.login("alice@example.com", "alicepass").await;
            let signups = (0..20).map(|i| {
                let t = t.clone();
                async move {
                    let body = json!([
                        {"email": format!("a{i}@example.com"), "password": "password1"},
                        {"email": format!("b{i}@example.com"), "password": "password1"}
                    ]);
                    t.post("/api/Users", body).await.status
                }
            });
            let tokens = (0..20).map(|_| {
                let (t, alice) = (t.clone(), alice.clone());
                async move {
                    t.call_as(&alice, Method::POST, "/api/accessTokens", Some(json!([{"ttl": 60}, {"ttl": 120}])))
                        .await
                        .status
                }
            });
            let side = async {
                actix_web::rt::time::sleep(Duration::from_millis(20)).await;
                let started = Instant::now();
                let res = t.get("/api/Products").await;
                (res.status, started.elapsed())
            };
            let (signups, tokens, (side_status, side_time)) =
                futures_util::future::join3(join_all(signups), join_all(tokens), side).await;
            let label = format!("[{} pool {pool}]", t.backend);
            assert!(signups.iter().all(|s| *s == StatusCode::OK), "{label} signups: {signups:?}");
            assert!(tokens.iter().all(|s| *s == StatusCode::OK), "{label} tokens: {tokens:?}");
            assert_eq!(side_status, StatusCode::OK, "{label}");
            // The bound is 1 s for the server; this test runs unoptimised code on a
            // runner shared with the other tests, which is several times slower, so it allows 3 s
            // in debug builds. The stall it guards against lasted 30 s.
            let bound = if cfg!(debug_assertions) { Duration::from_secs(3) } else { Duration::from_secs(1) };
            assert!(side_time < bound, "{label} the side read waited {side_time:?}");
            assert_eq!(t.get_as(&alice, "/api/Users/count").await, StatusCode::FORBIDDEN);
        })
        .await;
    }
}

#[actix_web::test]
async fn a_hooks_nested_write_rolls_back_with_its_batch() {
    on_each_backend(|t| async move {
        let res = t.post("/api/Journals", json!([{"text": "first"}, {"text": "boom"}])).await;
        assert_eq!(res.status, StatusCode::CONFLICT, "[{}] {:?}", t.backend, res.body);
        assert_eq!(t.get("/api/Journals/count").await.body, json!({"count": 0}), "[{}]", t.backend);
        assert_eq!(t.get("/api/Notes/count").await.body, json!({"count": 0}), "[{}] the hook's note stayed", t.backend);
        let res = t.post("/api/Journals", json!([{"text": "one"}, {"text": "two"}])).await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(t.get("/api/Notes/count").await.body, json!({"count": 2}));
    })
    .await;
}

#[actix_web::test]
async fn has_many_through_writes_are_atomic() {
    on_each_backend(|t| async move {
        let doc = t.create("/api/Physicians", json!({"name": "Dr"})).await;
        // A refused target leaves no link behind.
        let res = t.post(&format!("/api/Physicians/{doc}/patients"), json!({"name": null})).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(t.get("/api/Appointments/count").await.body, json!({"count": 0}));
        let res = t.post(&format!("/api/Physicians/{doc}/patients"), json!({"name": "Pat"})).await;
        assert_eq!(res.status, StatusCode::OK);
        let patient = res.body["id"].clone();
        assert_eq!(t.get("/api/Appointments/count").await.body, json!({"count": 1}));
        let res = t.delete(&format!("/api/Physicians/{doc}/patients/{patient}")).await;
        assert_eq!(res.status, StatusCode::NO_CONTENT);
        assert_eq!(t.get("/api/Appointments/count").await.body, json!({"count": 0}));
        assert_eq!(t.get("/api/Patients/count").await.body, json!({"count": 0}));
    })
    .await;
}

async fn filter_status(t: &TestApp, filter: Value) -> (StatusCode, Value) {
    let res = t.get(&format!("/api/Products?filter={}", q(filter))).await;
    (res.status, res.body)
}

#[actix_web::test]
async fn invalid_regular_expressions_are_400_everywhere() {
    on_each_backend(|t| async move {
        for name in ["Widget 1", "gadget 22", "École", "line1\nline2", "a.b"] {
            t.create("/api/Products", json!({"name": name})).await;
        }
        for bad in ["(", "*", "[", "\\", "a{1000}{1000}", "\\p{Foo}", "(?<=a)b", "(a)\\1", "a{256}", "\\bx"] {
            let (status, body) = filter_status(&t, json!({"where": {"name": {"regexp": bad}}})).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "[{}] {bad:?}: {body}", t.backend);
            assert!(
                body["error"]["message"].as_str().unwrap().contains("regexp")
                    || body["error"]["message"].as_str().unwrap().contains("regular expression"),
                "{body}"
            );
        }
        // What the dialect accepts finds the same rows on every back end.
        let names = |body: Value| -> Vec<String> {
            body.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect()
        };
        for (pattern, expected) in [
            ("\\d{2}", vec!["gadget 22"]),
            ("^[[:upper:]]", vec!["Widget 1"]),
            ("/^wid/i", vec!["Widget 1"]),
            ("line1.line2", vec!["line1\nline2"]),
            ("a\\.b", vec!["a.b"]),
            ("^(?:w|g)", vec!["gadget 22"]),
            ("/^éc/i", vec!["École"]),
        ] {
            let (status, body) = filter_status(&t, json!({"where": {"name": {"regexp": pattern}}})).await;
            assert_eq!(status, StatusCode::OK, "[{}] {pattern}: {body}", t.backend);
            assert_eq!(names(body), expected, "[{}] {pattern}", t.backend);
        }
    })
    .await;
}

#[actix_web::test]
async fn patterns_that_backtrack_without_end_or_repeat_anchors_are_400_everywhere() {
    on_each_backend(|t| async move {
        t.create("/api/Products", json!({"name": "a".repeat(2_000)})).await;
        for bad in ["^*", "$+", "x^*", "a$+b", "(^)*", "(a+)+$", "(a*)*b", "(.*a){12}$", "((ab)*c)+", "(a|b+){2,}"] {
            let (status, body) = filter_status(&t, json!({"where": {"name": {"regexp": bad}}})).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "[{}] {bad:?}: {body}", t.backend);
            assert!(body["error"]["message"].as_str().unwrap().contains("regexp"), "[{}] {body}", t.backend);
        }
    })
    .await;
}

#[actix_web::test]
async fn case_insensitive_matching_finds_the_same_rows_everywhere() {
    on_each_backend(|t| async move {
        // k, K, the Kelvin sign; σ, ς (final), Σ.
        for name in ["k", "K", "\u{212A}", "σ", "ς", "Σ"] {
            t.create("/api/Products", json!({"name": name})).await;
        }
        let names = |filter: Value| {
            let t = t.clone();
            async move {
                let res = t
                    .get(&format!("/api/Products?filter={}", q(json!({"where": {"name": filter}, "order": "id ASC"}))))
                    .await;
                assert_eq!(res.status, StatusCode::OK, "[{}] {:?}", t.backend, res.body);
                res.body.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
            }
        };
        // regexp's /i as JavaScript's: no non-ASCII letter matches an ASCII one; the sigmas
        // match each other.
        assert_eq!(names(json!({"regexp": "/^k$/i"})).await, ["k", "K"], "[{}]", t.backend);
        assert_eq!(names(json!({"regexp": "/^\u{212A}$/i"})).await, ["\u{212A}"], "[{}]", t.backend);
        assert_eq!(names(json!({"regexp": "/^ς$/i"})).await, ["σ", "ς", "Σ"], "[{}]", t.backend);
        assert_eq!(names(json!({"regexp": "/^[a-z]$/i"})).await, ["k", "K"], "[{}]", t.backend);
        // ilike as SQL's ILIKE: lower cases compared (the Kelvin sign's is k; ς is its own).
        assert_eq!(names(json!({"ilike": "k"})).await, ["k", "K", "\u{212A}"], "[{}]", t.backend);
        assert_eq!(names(json!({"ilike": "Σ"})).await, ["σ", "Σ"], "[{}]", t.backend);
        assert_eq!(names(json!({"ilike": "ς"})).await, ["ς"], "[{}]", t.backend);
    })
    .await;
}

#[actix_web::test]
async fn a_regexp_the_database_gives_up_on_is_an_error_not_no_match() {
    on_each_backend(|t| async move {
        // PCRE2 (MariaDB) gives up on the long value at its match limit; PostgreSQL's and
        // Rust's engines do not backtrack.
        t.create("/api/Products", json!({"name": "aaaa"})).await;
        t.create("/api/Products", json!({"name": format!("{}!", "a".repeat(40))})).await;
        let (status, body) = filter_status(&t, json!({"where": {"name": {"regexp": "^(a|aa)+$"}}})).await;
        if t.backend == "mysql" {
            assert_eq!(status, StatusCode::BAD_REQUEST, "[{}] {body}", t.backend);
            assert_eq!(body["error"]["code"], "REGEXP_TOO_COMPLEX", "[{}] {body}", t.backend);
        } else {
            assert_eq!(status, StatusCode::OK, "[{}] {body}", t.backend);
            assert_eq!(body.as_array().unwrap().len(), 1, "[{}] {body}", t.backend);
        }
    })
    .await;
}

#[actix_web::test]
async fn a_statement_past_its_time_limit_is_stopped_and_answered_503() {
    let settings = Settings { statement_timeout: Some(Duration::from_millis(300)), ..Settings::default() };
    on_each_backend_with(settings, |t| async move {
        use sea_orm::ConnectionTrait;
        let state = t.api.state();
        let backend = state.db.get_database_backend();
        let slow = match t.backend {
            "postgres" => "SELECT pg_sleep(3)",
            "mysql" => "SELECT SLEEP(3)",
            _ => "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) SELECT count(*) FROM c",
        };
        let started = std::time::Instant::now();
        let err = state.pool().query_one_raw(sea_orm::Statement::from_string(backend, slow)).await.expect_err("stopped");
        assert!(started.elapsed() < Duration::from_secs(2), "[{}] stopped after {:?}", t.backend, started.elapsed());
        let err = persisted_model::Error::from(err);
        assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE, "[{}] {err}", t.backend);
        assert_eq!(err.to_json()["code"], "QUERY_TIMEOUT", "[{}]", t.backend);
        // The connection serves the next statement.
        assert_eq!(t.get("/api/Products/count").await.status, StatusCode::OK, "[{}]", t.backend);
    })
    .await;
}

#[actix_web::test]
async fn nul_characters_and_bad_like_patterns_are_client_errors() {
    on_each_backend(|t| async move {
        let res = t.post("/api/Products", json!({"name": "a\u{0}b"})).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{}] {:?}", t.backend, res.body);
        assert_eq!(res.body["error"]["details"]["codes"]["name"], json!(["format"]));
        let res = t.post("/api/Gadgets", json!({"specs": {"k": "\u{0}"}})).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{}] {:?}", t.backend, res.body);
        for filter in [
            json!({"where": {"name": "a\u{0}"}}),
            json!({"where": {"name": {"like": "a\u{0}%"}}}),
            json!({"where": {"name": {"regexp": "a\u{0}"}}}),
            json!({"where": {"name": {"like": "abc\\"}}}),
            json!({"where": {"name": {"ilike": "%\\"}}}),
        ] {
            let (status, body) = filter_status(&t, filter.clone()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "[{}] {filter}: {body}", t.backend);
        }
        // An escaped backslash at the end is fine.
        t.create("/api/Products", json!({"name": "back\\"})).await;
        let (status, body) = filter_status(&t, json!({"where": {"name": {"like": "back\\\\"}}})).await;
        assert_eq!((status, body.as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "[{}]", t.backend);
        // A NUL in a string id names nothing.
        assert_eq!(t.get("/api/Tags/a%00b").await.status, StatusCode::NOT_FOUND);
    })
    .await;
}

#[actix_web::test]
async fn string_lengths_are_stored_or_refused_never_a_500() {
    on_each_backend_with_auth(|t| async move {
        let long = "n".repeat(256);
        let res = t.post("/api/Products", json!({"name": long})).await;
        assert_eq!(res.status, StatusCode::OK, "[{}] {:?}", t.backend, res.body);
        assert_eq!(res.body["name"], json!(long));
        let huge = "x".repeat(5000);
        let res = t.post("/api/Gadgets", json!({"label": huge})).await;
        assert_eq!(res.status, StatusCode::OK, "[{}] unbounded text: {:?}", t.backend, res.status);
        let res = t
            .post("/api/Users", json!({"email": format!("{}@example.com", "e".repeat(5000)), "password": "password1"}))
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{}] {:?}", t.backend, res.body);
        assert_eq!(res.body["error"]["details"]["codes"]["email"], json!(["length.max"]));
        let res = t.post("/api/Gadgets", json!({"code": "12345678901"})).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(res.body["error"]["details"]["codes"]["code"], json!(["length.max"]));
        let res = t.post("/api/Gadgets", json!({"code": "ÉÉÉÉÉÉÉÉÉÉ"})).await;
        assert_eq!(res.status, StatusCode::OK, "[{}] ten characters fit, however many bytes", t.backend);
    })
    .await;
}

#[actix_web::test]
async fn unique_violations_are_422_even_in_races() {
    on_each_backend_with_auth(|t| async move {
        let signups = (0..10).map(|_| {
            let t = t.clone();
            async move { t.post("/api/Users", json!({"email": "same@example.com", "password": "password1"})).await }
        });
        let results = join_all(signups).await;
        let ok = results.iter().filter(|r| r.status == StatusCode::OK).count();
        assert_eq!(ok, 1, "[{}] {:?}", t.backend, results.iter().map(|r| r.status).collect::<Vec<_>>());
        for r in results.iter().filter(|r| r.status != StatusCode::OK) {
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "[{}] {:?}", t.backend, r.body);
            assert_eq!(r.body["error"]["details"]["codes"]["email"], json!(["uniqueness"]));
        }
        let res = t
            .post(
                "/api/Users",
                json!([{"email": "twin@example.com", "password": "password1"}, {"email": "twin@example.com", "password": "password1"}]),
            )
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{}] {:?}", t.backend, res.body);
        let login = t.post("/api/Users/login", json!({"email": "twin@example.com", "password": "password1"})).await;
        assert_eq!(login.status, StatusCode::UNAUTHORIZED, "nothing of the batch stays");
        // A unique column without a hook: the database's constraint answers, as a 422.
        t.create("/api/Gadgets", json!({"sku": "S-1"})).await;
        let res = t.post("/api/Gadgets", json!({"sku": "S-1"})).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{}] {:?}", t.backend, res.body);
        assert_eq!(res.body["error"]["details"]["codes"]["sku"], json!(["uniqueness"]));
        let other = t.create("/api/Gadgets", json!({"sku": "S-2"})).await;
        let res = t.patch(&format!("/api/Gadgets/{other}"), json!({"sku": "S-1"})).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{}] {:?}", t.backend, res.body);
    })
    .await;
}

#[actix_web::test]
async fn deep_filters_say_they_are_too_deep() {
    on_each_backend(|t| async move {
        let mut deep = json!({"name": "x"});
        for i in 0..60 {
            deep = if i % 2 == 0 { json!({"and": [deep]}) } else { json!({"or": [deep]}) };
        }
        let (status, body) = filter_status(&t, json!({"where": deep})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "QUERY_OBJECT_TOO_DEEP", "{body}");
    })
    .await;
}

#[actix_web::test]
async fn dates_keep_every_year_or_are_refused() {
    on_each_backend(|t| async move {
        for (sent, stored) in [
            (json!("2100-01-01"), "2100-01-01T00:00:00.000Z"),
            (json!("1900-06-01T12:30:00.250Z"), "1900-06-01T12:30:00.250Z"),
            (json!("0001-01-01"), "0001-01-01T00:00:00.000Z"),
            (json!(253_402_300_799_999_i64), "9999-12-31T23:59:59.999Z"),
            (json!(-1000), "1969-12-31T23:59:59.000Z"),
        ] {
            let res = t.post("/api/Products", json!({"name": "d", "releasedAt": sent})).await;
            assert_eq!(res.status, StatusCode::OK, "[{}] {sent}: {:?}", t.backend, res.body);
            assert_eq!(res.body["releasedAt"], json!(stored), "[{}] {sent}", t.backend);
            let id = res.body["id"].clone();
            assert_eq!(t.get(&format!("/api/Products/{id}")).await.body["releasedAt"], json!(stored));
            let found = t.get(&format!("/api/Products?filter={}", q(json!({"where": {"releasedAt": stored}})))).await;
            assert_eq!(found.body.as_array().map(Vec::len), Some(1), "[{}] {stored}", t.backend);
        }
        for sent in [json!(253_402_300_800_000_i64), json!("10000-01-01"), json!(-62_135_596_800_001_i64)] {
            let res = t.post("/api/Products", json!({"name": "d", "releasedAt": sent})).await;
            assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{}] {sent}: {:?}", t.backend, res.body);
        }
        // A naive date-time column (PostgreSQL `timestamp`) round-trips as UTC.
        let res = t.post("/api/Gadgets", json!({"madeAt": "2021-03-04T05:06:07.089Z"})).await;
        assert_eq!(res.status, StatusCode::OK, "[{}] {:?}", t.backend, res.body);
        assert_eq!(res.body["madeAt"], json!("2021-03-04T05:06:07.089Z"), "[{}]", t.backend);
        let filter = json!({"where": {"madeAt": {"gt": "2021-03-04T05:06:07.000Z"}}});
        let found = t.get(&format!("/api/Gadgets?filter={}", q(filter))).await;
        assert_eq!(found.body.as_array().map(Vec::len), Some(1), "[{}] {:?}", t.backend, found.body);
    })
    .await;
}

#[actix_web::test]
async fn page_include_and_batch_limits() {
    let mut limits = FilterLimits::default();
    limits.default_limit = Some(5);
    limits.max_limit = Some(8);
    limits.max_include_rows = 30;
    let settings = Settings { limits: Some(limits), max_batch: Some(12), ..Settings::default() };
    on_each_backend_with(settings, |t| async move {
        let cat = t.create("/api/Categories", json!({"name": "c"})).await;
        let items: Vec<Value> = (0..12).map(|i| json!({"name": format!("p{i}"), "categoryId": cat})).collect();
        assert_eq!(t.post("/api/Products", Value::Array(items)).await.status, StatusCode::OK);
        let too_many: Vec<Value> = (0..13).map(|i| json!({"name": format!("x{i}")})).collect();
        let res = t.post("/api/Products", Value::Array(too_many)).await;
        assert_eq!((res.status, res.code()), (StatusCode::PAYLOAD_TOO_LARGE, Some("BATCH_TOO_LARGE")));
        assert_eq!(t.get("/api/Products/count").await.body, json!({"count": 12}));

        let len = |res: crate::support::Resp| res.body.as_array().map(Vec::len);
        assert_eq!(len(t.get("/api/Products").await), Some(5), "default page under a maximum");
        assert_eq!(len(t.get(&format!("/api/Products?filter={}", q(json!({"limit": 100})))).await), Some(8));
        assert_eq!(len(t.get(&format!("/api/Products?filter={}", q(json!({"limit": 3})))).await), Some(3));
        // A scope keeps its own limit (per parent) and no page default: all 12 products.
        let f = json!({"include": {"relation": "products"}});
        let res = t.get(&format!("/api/Categories?filter={}", q(f))).await;
        assert_eq!(res.body[0]["products"].as_array().map(Vec::len), Some(12), "{:?}", res.body);
        let f = json!({"include": {"relation": "products", "scope": {"limit": 2}}});
        let res = t.get(&format!("/api/Categories?filter={}", q(f))).await;
        assert_eq!(res.body[0]["products"].as_array().map(Vec::len), Some(2));
        // Each of 5 products carries the category with its 12 products: 5 * 13 > 30.
        let f = json!({"where": {"categoryId": cat}, "include": {"relation": "category", "scope": {"include": "products"}}});
        let res = t.get(&format!("/api/Products?filter={}", q(f))).await;
        assert_eq!((res.status, res.code()), (StatusCode::BAD_REQUEST, Some("INCLUDE_TOO_LARGE")), "[{}]", t.backend);
        let f = json!({"where": {"categoryId": cat}, "limit": 2, "include": {"relation": "category", "scope": {"include": "products"}}});
        let res = t.get(&format!("/api/Products?filter={}", q(f))).await;
        assert_eq!(res.status, StatusCode::OK, "2 * 13 fits");
    })
    .await;
}

#[actix_web::test]
async fn default_limits_protect_the_server() {
    let d = FilterLimits::default();
    assert_eq!(d.page(None), Some(1000));
    assert_eq!(d.page(Some(5000)), Some(1000));
    assert_eq!(FilterLimits::recommended().page(None), Some(100));
    assert_eq!(persisted_model::DEFAULT_MAX_BATCH, 100);
}

#[actix_web::test]
async fn empty_scopes_allow_nothing() {
    on_each_backend_with_auth(|t| async move {
        let admin = t.login("admin@example.com", "adminpass").await;
        let res = t.call_as(&admin, Method::POST, "/api/accessTokens", Some(json!({"userId": 2, "scopes": []}))).await;
        assert_eq!(res.status, StatusCode::OK, "[{}] {:?}", t.backend, res.body);
        let empty = res.body["id"].as_str().unwrap().to_owned();
        assert_ne!(t.get_as(&empty, "/api/Users/2").await, StatusCode::OK);
        assert_ne!(t.get_as(&empty, "/api/accessTokens").await, StatusCode::OK);
        let res = t.call_as(&empty, Method::POST, "/api/accessTokens", Some(json!({}))).await;
        assert_ne!(res.status, StatusCode::OK, "an empty-scoped token mints nothing: {:?}", res.body);
        let alice = t.login("alice@example.com", "alicepass").await;
        assert_eq!(t.get_as(&alice, "/api/Users/2").await, StatusCode::OK);
    })
    .await;
}

/// A logout racing reads of the same token: once the logout answered, the token is refused
/// (the token cache, used on SQLite, is invalidated after the commit too).
#[actix_web::test]
async fn revoked_tokens_stay_revoked_under_concurrent_reads() {
    on_each_backend_with_auth(|t| async move {
        for round in 0..15 {
            let token = t.login("alice@example.com", "alicepass").await;
            let reads = (0..4).map(|_| {
                let (t, token) = (t.clone(), token.clone());
                async move { t.get_as(&token, "/api/Users/2").await }
            });
            let logout = t.call_as(&token, Method::POST, "/api/Users/logout", None);
            let (_, res) = futures_util::future::join(join_all(reads), logout).await;
            assert_eq!(res.status, StatusCode::NO_CONTENT, "[{}] round {round}", t.backend);
            assert_eq!(
                t.get_as(&token, "/api/Users/2").await,
                StatusCode::UNAUTHORIZED,
                "[{}] round {round}",
                t.backend
            );
        }
    })
    .await;
}

/// The `access` hook hides archived memos from every route that names one by id.
#[actix_web::test]
async fn the_access_hook_guards_writes_by_id() {
    on_each_backend(|t| async move {
        let cat = t.create("/api/Categories", json!({"name": "c"})).await;
        let hidden = t.create("/api/Memos", json!({"text": "old", "archived": true, "categoryId": cat})).await;
        let visible = t.create("/api/Memos", json!({"text": "new", "categoryId": cat})).await;
        let routes = [
            (Method::PATCH, format!("/api/Memos/{hidden}"), json!({"text": "changed"})),
            (Method::PUT, format!("/api/Memos/{hidden}"), json!({"text": "changed"})),
            (Method::POST, format!("/api/Memos/{hidden}/replace"), json!({"text": "changed"})),
            (Method::PATCH, "/api/Memos".to_owned(), json!({"id": hidden, "text": "changed"})),
            (Method::PUT, "/api/Memos".to_owned(), json!({"id": hidden, "text": "changed"})),
            (Method::PUT, format!("/api/Categories/{cat}/memos/{hidden}"), json!({"text": "changed"})),
        ];
        for (method, uri, body) in routes {
            let res = t.call(method.clone(), &uri, Some(body)).await;
            assert_eq!(res.status, StatusCode::NOT_FOUND, "[{}] {method} {uri}: {:?}", t.backend, res.body);
        }
        // Still there, unchanged: only server code sees it.
        assert_eq!(t.scalar(&format!("SELECT text FROM {{memo}} WHERE id = {hidden}")).await, json!("old"));
        let res = t.patch(&format!("/api/Memos/{visible}"), json!({"text": "edited"})).await;
        assert_eq!(res.status, StatusCode::OK);
    })
    .await;
}

#[actix_web::test]
async fn ilike_folds_non_ascii_case_everywhere() {
    on_each_backend(|t| async move {
        t.create("/api/Products", json!({"name": "École"})).await;
        t.create("/api/Products", json!({"name": "ecole"})).await;
        for (op, pattern, expected) in
            [("ilike", "%ÉCOLE%", 1), ("ilike", "école", 1), ("nilike", "ÉCOLE", 1), ("ilike", "_COLE", 2)]
        {
            let (status, body) = filter_status(&t, json!({"where": {"name": {op: pattern}}})).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(body.as_array().map(Vec::len), Some(expected), "[{}] {op} {pattern}: {body}", t.backend);
        }
    })
    .await;
}

#[actix_web::test]
async fn health_and_readiness() {
    on_each_backend(|t| async move {
        let res = t.get("/healthz").await;
        assert_eq!((res.status, res.body["status"].clone()), (StatusCode::OK, json!("ok")));
        let res = t.get("/readyz").await;
        assert_eq!((res.status, res.body["database"].clone()), (StatusCode::OK, json!("ok")), "[{}]", t.backend);
    })
    .await;
}

/// A SQLite file: 1,200 creates, 40 at a time on a pool of ten connections, with reads beside
/// them. Every write waits its turn in the process (none gets "database is locked" or waits in
/// SQLite's busy handler), and the write-ahead log is truncated on the way instead of holding
/// every page written.
#[actix_web::test]
async fn sqlite_file_writes_queue_and_the_log_stays_small() {
    let sqlite = Backend { name: "sqlite", url: "sqlite::memory:".to_owned() };
    // Queued writes wait up to the acquire timeout and then get 503 (tested in faults.rs); a
    // slow, busy CI machine must not turn this test of queueing into one of that timeout.
    let settings = Settings { pool: Some(10), acquire_timeout: Some(Duration::from_secs(60)), ..Settings::default() };
    let t = TestApp::build_with(&sqlite, &settings).await;
    let path = t.temp_file.clone().expect("a pool of ten on SQLite uses a file");
    let mut statuses = Vec::new();
    for round in 0..30 {
        let creates = (0..40).map(|i| {
            let t = t.clone();
            async move { t.post("/api/Products", json!({"name": format!("p{round}-{i}"), "price": 1})).await.status }
        });
        let reads = (0..5).map(|_| {
            let t = t.clone();
            async move { t.get("/api/Products?filter[limit]=5").await.status }
        });
        let (created, read) = futures_util::future::join(join_all(creates), join_all(reads)).await;
        statuses.extend(created);
        assert!(read.iter().all(|s| *s == StatusCode::OK), "reads: {read:?}");
    }
    assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{:?}", statuses.iter().find(|s| **s != StatusCode::OK));
    assert_eq!(t.get("/api/Products/count").await.body["count"], 1200);
    let wal = std::fs::metadata(path.with_extension("db-wal")).map_or(0, |m| m.len());
    // 1,200 inserts log about 3,000 pages (12 MB); after the truncation at the 1,000th write
    // the log holds what the last 200 wrote.
    assert!(wal < 4 * 1024 * 1024, "the WAL is {wal} bytes");
    t.drop_tables().await;
}
