//! ACLs on every route: each role kind, the 401/403 split, and include/relation routes that
//! reach a model the caller may not read.

use actix_web::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, on_each_backend_with_auth, q};

async fn alice_id(t: &TestApp, token: &str) -> Value {
    t.call_as(token, Method::GET, "/api/Users/2", None).await.body["id"].clone()
}

#[actix_web::test]
async fn denial_is_401_for_anonymous_and_403_for_users() {
    on_each_backend_with_auth(|t| async move {
        let alice = t.login("alice@example.com", "alicepass").await;
        let res = t.get("/api/Secrets").await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "[{}]", t.backend);
        assert_eq!(res.body, json!({"error": {"statusCode": 401, "name": "Error", "message": "Authorization Required", "code": "AUTHORIZATION_REQUIRED"}}));
        let res = t.call_as(&alice, Method::POST, "/api/Secrets", Some(json!({"text": "x"}))).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        assert_eq!(res.body, json!({"error": {"statusCode": 403, "name": "Error", "message": "Access Denied", "code": "ACCESS_DENIED"}}));
        // $authenticated may find.
        assert_eq!(t.call_as(&alice, Method::GET, "/api/Secrets", None).await.status, StatusCode::OK);
        // Models without ACLs stay open, as in LoopBack.
        assert_eq!(t.get("/api/Products").await.status, StatusCode::OK);
    })
    .await;
}

#[actix_web::test]
async fn static_roles_owner_and_custom_roles() {
    on_each_backend_with_auth(|t| async move {
        let admin = t.login("admin@example.com", "adminpass").await;
        let alice = t.login("alice@example.com", "alicepass").await;
        let alice_id = alice_id(&t, &alice).await;
        // Nobody may create secrets yet; make alice an editor through RoleMapping.
        assert_eq!(
            t.call_as(&alice, Method::POST, "/api/Secrets", Some(json!({"text": "x"}))).await.status,
            StatusCode::FORBIDDEN
        );
        persisted_model_access_token::add_user_to_role(&t.api, &alice_id, "editor").await.unwrap();
        let res =
            t.call_as(&alice, Method::POST, "/api/Secrets", Some(json!({"text": "mine", "userId": alice_id}))).await;
        assert_eq!(res.status, StatusCode::OK, "[{}] {:?}", t.backend, res.body);
        let mine = res.body["id"].clone();
        let res = t.call_as(&alice, Method::POST, "/api/Secrets", Some(json!({"text": "admin's", "userId": 1}))).await;
        let theirs = res.body["id"].clone();

        // $owner: alice reads and patches her own secret only.
        assert_eq!(t.call_as(&alice, Method::GET, &format!("/api/Secrets/{mine}"), None).await.status, StatusCode::OK);
        let res =
            t.call_as(&alice, Method::PATCH, &format!("/api/Secrets/{mine}"), Some(json!({"text": "edited"}))).await;
        assert_eq!(res.status, StatusCode::OK);
        // (alice is an editor, so WRITE on the other secret is allowed; READ by id is not.)
        assert_eq!(
            t.call_as(&alice, Method::GET, &format!("/api/Secrets/{theirs}"), None).await.status,
            StatusCode::FORBIDDEN
        );
        // A denied caller learns nothing about existence: 403 for a missing id too.
        assert_eq!(t.call_as(&alice, Method::GET, "/api/Secrets/99999", None).await.status, StatusCode::FORBIDDEN);

        // Custom role from a closure: user 1 is an auditor and may read anything.
        assert_eq!(t.call_as(&admin, Method::GET, &format!("/api/Secrets/{mine}"), None).await.status, StatusCode::OK);
        assert_eq!(t.call_as(&admin, Method::GET, "/api/Secrets/count", None).await.body, json!({"count": 2}));
        // ...but not write.
        let res = t.call_as(&admin, Method::DELETE, &format!("/api/Secrets/{mine}"), None).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);

        // Role memberships are cached; removing alice's mapping takes effect at once.
        let state = t.api.state();
        let mappings = state.store("RoleMapping", "deleteById", None).unwrap();
        let removed = mappings
            .delete_where(persisted_model::filter::Where::eq("principalId", persisted_model::id_text(&alice_id).into()))
            .await
            .unwrap();
        assert_eq!(removed, 1, "[{}]", t.backend);
        let res =
            t.call_as(&alice, Method::POST, "/api/Secrets", Some(json!({"text": "again", "userId": alice_id}))).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "[{}] a removed role still granted: {:?}", t.backend, res.body);
    })
    .await;
}

#[actix_web::test]
async fn include_and_relation_routes_check_the_target() {
    on_each_backend_with_auth(|t| async move {
        let alice = t.login("alice@example.com", "alicepass").await;
        let cat = t.create("/api/Categories", json!({"name": "c"})).await;
        // Category is open, Secret is not: the relation and the include need READ on Secret.
        let res = t.get(&format!("/api/Categories/{cat}/secrets")).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "[{}] {:?}", t.backend, res.body);
        let res = t.get(&format!("/api/Categories?filter={}", q(json!({"include": "secrets"})))).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        let res =
            t.get(&format!("/api/Categories/{cat}?filter={}", q(json!({"include": {"relation": "secrets"}})))).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        let res = t.call(Method::POST, &format!("/api/Categories/{cat}/secrets"), Some(json!({"text": "x"}))).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        // Alice may find secrets, so she may list them through the category too.
        let res = t.call_as(&alice, Method::GET, &format!("/api/Categories/{cat}/secrets"), None).await;
        assert_eq!((res.status, res.body.clone()), (StatusCode::OK, json!([])));
        let res = t
            .call_as(&alice, Method::GET, &format!("/api/Categories?filter={}", q(json!({"include": "secrets"}))), None)
            .await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(res.body[0]["secrets"], json!([]));
        // Including the User behind a secret needs READ on User, which nobody has.
        let res = t
            .call_as(&alice, Method::GET, &format!("/api/Secrets?filter={}", q(json!({"include": "owner"}))), None)
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        // Users' tokens are never included, and their relation route is denied.
        let res = t.call_as(&alice, Method::GET, "/api/Users/2/accessTokens", None).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
    })
    .await;
}

#[actix_web::test]
async fn malformed_filters_are_400_before_authorization() {
    on_each_backend_with_auth(|t| async move {
        let res = t.get("/api/Secrets?filter=%7Bnope").await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "arguments are read first, as LoopBack does");
    })
    .await;
}

#[actix_web::test]
async fn entries_from_the_acl_table_apply_at_once() {
    on_each_backend_with_auth(|t| async move {
        assert_eq!(t.get("/api/Secrets").await.status, StatusCode::UNAUTHORIZED);
        let state = t.api.state();
        let acls = state.store("ACL", "create", None).unwrap();
        let row = acls
            .create(&json!({"model": "Secret", "property": "find", "accessType": "READ", "permission": "ALLOW", "principalType": "ROLE", "principalId": "$everyone"}))
            .await
            .unwrap();
        assert_eq!(t.get("/api/Secrets").await.status, StatusCode::OK, "[{}]", t.backend);
        // Other methods keep the static DENY.
        assert_eq!(t.get("/api/Secrets/count").await.status, StatusCode::UNAUTHORIZED);
        acls.delete_by_id(&row["id"]).await.unwrap();
        assert_eq!(t.get("/api/Secrets").await.status, StatusCode::UNAUTHORIZED);
        // A malformed row is ignored, not a 500.
        acls.create(&json!({"model": "*", "property": "*", "accessType": "SOMETIMES", "permission": "ALLOW", "principalType": "ROLE", "principalId": "$everyone"}))
            .await
            .unwrap();
        assert_eq!(t.get("/api/Secrets").await.status, StatusCode::UNAUTHORIZED);
    })
    .await;
}

/// hasManyThrough link and unlink write the through model, not the target: they are checked
/// against the through model's ACLs (and the target must be readable).
#[actix_web::test]
async fn links_are_authorized_on_the_through_model() {
    use crate::support::{Settings, on_each_backend_with};
    use persisted_model::acl::AclEntry;
    let deny = |model: &str, method: &str| AclEntry::role(model, method, None, "$everyone").deny();
    let settings = Settings {
        acls: vec![deny("Patient", "create"), deny("Patient", "deleteById"), deny("Appointment", "deleteById")],
        ..Settings::default()
    };
    on_each_backend_with(settings, |t| async move {
        let house = t.create("/api/Physicians", json!({"name": "House"})).await;
        let state = t.api.state();
        let patients = state.store("Patient", "seed", None).unwrap();
        let sam = patients.create(&json!({"name": "Sam"})).await.unwrap()["id"].clone();
        let link = t.put(&format!("/api/Physicians/{house}/patients/rel/{sam}"), json!({})).await;
        assert_eq!(link.status, StatusCode::OK, "[{}] linking creates an Appointment: {:?}", t.backend, link.body);
        let create = t.post(&format!("/api/Physicians/{house}/patients"), json!({"name": "Ann"})).await;
        assert_eq!(create.status, StatusCode::UNAUTHORIZED, "creating through the relation creates a Patient");
        let unlink = t.delete(&format!("/api/Physicians/{house}/patients/rel/{sam}")).await;
        assert_eq!(unlink.status, StatusCode::UNAUTHORIZED, "unlinking deletes an Appointment: {:?}", unlink.body);
    })
    .await;
}
