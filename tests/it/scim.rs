//! SCIM 2.0 provisioning through `/scim/v2`: only the organisation's SCIM token opens it; users
//! are created, found, patched and deactivated (which ends their sessions and tokens at once and
//! keeps their contributions, anonymous ones unlinkable); groups are teams.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{Api, TestApp, PASSWORD};
use crate::story;

const ADA: &str = "ada@example.org";
const LEE: &str = "lee@example.org";

/// A client of `/scim/v2` holding a freshly rotated SCIM token.
async fn scim(app: &TestApp) -> Api {
    let (token, _) = app
        .service
        .rotate_scim_token(None)
        .await
        .expect("scim token");
    assert!(token.starts_with("ffscim_"));
    app.api(&token)
}

/// The id of the one user `filter` finds.
async fn find_user(scim: &Api, filter: &str) -> Value {
    let (status, list) = scim
        .get(&format!("/scim/v2/Users?filter={}", urlencode(filter)))
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["totalResults"], 1, "{filter}: {list}");
    list["Resources"][0].clone()
}

fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

story!(only_the_scim_token_opens_scim, |app: TestApp| async move {
    app.set_up().await;
    let admin_api = app.token_for(ADA).await;
    let scim_api = scim(&app).await;
    for wrong in [&admin_api, &app.api("ffscim_not-the-token")] {
        let (status, body) = wrong.get("/scim/v2/Users").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(
            body["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
        );
        assert_eq!(body["status"], "401");
    }
    let response = reqwest::get(app.url("/scim/v2/Users")).await.expect("get");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["content-type"], "application/scim+json");
    let (status, _) = scim_api.get("/scim/v2/ServiceProviderConfig").await;
    assert_eq!(status, StatusCode::OK);
    // Rotating ends the previous token at once.
    let rotated = scim(&app).await;
    let (status, _) = scim_api.get("/scim/v2/Users").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = rotated.get("/scim/v2/Users").await;
    assert_eq!(status, StatusCode::OK);
    let (_, entries) = admin_api
        .get("/api/v1/audit?action=scim.token_rotated")
        .await;
    assert_eq!(entries.as_array().map(Vec::len), Some(2), "{entries}");
});

story!(
    admins_make_replace_and_revoke_the_token_through_the_api_and_the_people_page,
    |app: TestApp| async move {
        let admin_browser = app.set_up().await;
        app.create_user(LEE, "Lee Lead", false).await;
        let admin = app.token_for(ADA).await;
        let lee = app.token_for(LEE).await;

        let (status, off) = admin.get("/api/v1/scim/token").await;
        assert_eq!(status, StatusCode::OK, "{off}");
        assert_eq!(
            off,
            json!({"configured": false, "prefix": null, "created_at": null})
        );
        // Only organisation admins see or change it.
        for (status, body) in [
            lee.get("/api/v1/scim/token").await,
            lee.post("/api/v1/scim/token", json!({})).await,
            lee.delete("/api/v1/scim/token").await,
        ] {
            assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        }

        let (status, made) = admin.post("/api/v1/scim/token", json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        let token = made["token"].as_str().expect("token").to_owned();
        let prefix = made["prefix"].as_str().expect("prefix").to_owned();
        assert!(
            token.starts_with(&prefix) && prefix.starts_with("ffscim_"),
            "{made}"
        );
        let (status, on) = admin.get("/api/v1/scim/token").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(on["configured"], true);
        assert_eq!(on["prefix"], made["prefix"]);
        assert!(
            !on.to_string().contains(&token),
            "the token is shown once: {on}"
        );
        let (status, _) = app.api(&token).get("/scim/v2/Users").await;
        assert_eq!(status, StatusCode::OK);

        // The People page replaces it (the new one shown once, the old one refused) …
        let page = admin_browser.get_text("/people").await.1;
        assert!(
            page.contains(&prefix) && !page.contains(&token),
            "only the prefix shows"
        );
        assert!(
            page.contains(&app.url("/scim/v2")),
            "the base address to give the provider"
        );
        let response = admin_browser
            .submit("/people", "/people/scim/token", &[])
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let html = response.text().await.expect("page");
        let shown = html
            .split("id=\"scim-token\"")
            .nth(1)
            .and_then(|rest| rest.split("value=\"").nth(1))
            .and_then(|rest| rest.split('"').next())
            .expect("the new token on the page")
            .to_owned();
        assert_ne!(shown, token);
        let (status, _) = app.api(&token).get("/scim/v2/Users").await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "the old token stopped working"
        );
        let (status, _) = app.api(&shown).get("/scim/v2/Users").await;
        assert_eq!(status, StatusCode::OK);

        // … and switches SCIM off; switching it off twice finds nothing to revoke.
        let response = admin_browser
            .submit("/people", "/people/scim/token/revoke", &[])
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let (status, _) = app.api(&shown).get("/scim/v2/Users").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, problem) = admin.delete("/api/v1/scim/token").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
        let (_, off) = admin.get("/api/v1/scim/token").await;
        assert_eq!(off["configured"], false);

        // Each change is audited once, with the admin as its actor.
        for (action, count) in [("scim.token_rotated", 2), ("scim.token_revoked", 1)] {
            let (_, entries) = admin.get(&format!("/api/v1/audit?action={action}")).await;
            let entries = entries.as_array().expect("entries").clone();
            assert_eq!(entries.len(), count, "{action}: {entries:?}");
            assert!(
                entries.iter().all(|e| e["actor_email"] == ADA),
                "{entries:?}"
            );
        }
    }
);

story!(
    users_are_created_found_paged_and_patched,
    |app: TestApp| async move {
        app.set_up().await;
        let scim = scim(&app).await;
        let (status, created) = scim
            .post(
                "/scim/v2/Users",
                json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": "mo@example.org",
                    "externalId": "okta-17",
                    "name": {"formatted": "Mo Member"},
                    "emails": [{"value": "mo@example.org", "type": "work", "primary": true}],
                    "active": true,
                }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().expect("id").to_owned();
        assert_eq!(created["meta"]["resourceType"], "User");
        assert!(created["meta"]["location"]
            .as_str()
            .is_some_and(|l| l.ends_with(&format!("/scim/v2/Users/{id}"))));

        let (status, duplicate) = scim
            .post("/scim/v2/Users", json!({"userName": "MO@example.org"}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{duplicate}");
        assert_eq!(duplicate["scimType"], "uniqueness");
        let (status, bad) = scim
            .post("/scim/v2/Users", json!({"userName": "no-email"}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");

        assert_eq!(
            find_user(&scim, r#"userName eq "Mo@Example.org""#).await["id"],
            id
        );
        assert_eq!(
            find_user(&scim, r#"externalId eq "okta-17""#).await["id"],
            id
        );
        let (_, first) = scim.get("/scim/v2/Users?startIndex=1&count=1").await;
        let (_, second) = scim.get("/scim/v2/Users?startIndex=2&count=1").await;
        assert_eq!(second["totalResults"], 2, "{second}");
        assert_eq!(second["itemsPerPage"], 1);
        assert_eq!(second["startIndex"], 2);
        let ids = [&first["Resources"][0]["id"], &second["Resources"][0]["id"]];
        assert_ne!(ids[0], ids[1], "pages do not overlap");
        assert!(ids.contains(&&json!(id)), "{first} {second}");
        let (_, only_names) = scim
            .get("/scim/v2/Users?excludedAttributes=emails,name")
            .await;
        assert!(only_names["Resources"][0].get("emails").is_none());
        assert!(only_names["Resources"][0].get("userName").is_some());

        let (status, patched) = scim
        .patch(
            &format!("/scim/v2/Users/{id}"),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [
                    {"op": "replace", "path": "name.formatted", "value": "Mo Renamed"},
                    {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "mo@new.example.org"},
                ],
            }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["displayName"], "Mo Renamed");
        assert_eq!(patched["emails"][0]["value"], "mo@new.example.org");
        let (status, _) = scim.get("/scim/v2/Users/not-an-id").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
);

story!(
    deactivation_ends_sessions_and_tokens_at_once,
    |app: TestApp| async move {
        app.set_up().await;
        let admin = app.token_for(ADA).await;
        app.create_user(LEE, "Lee Lead", false).await;
        let lee_api = app.token_for(LEE).await;
        let lee_web = app.sign_in(LEE).await;
        let (status, _) = lee_api.post("/api/v1/teams", json!({"name": "Ops"})).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, _) = lee_api
            .post(
                "/api/v1/teams/ops/loops",
                json!({"title": "Night shift", "what_happened": "x", "anonymous": true}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, named) = lee_api
            .post(
                "/api/v1/teams/ops/loops",
                json!({"title": "Named one", "what_happened": "x"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{named}");
        app.release_anonymous_loops().await;
        assert_eq!(lee_web.get("/api/v1/me").await.status(), StatusCode::OK);

        let scim = scim(&app).await;
        let lee = find_user(&scim, &format!(r#"userName eq "{LEE}""#)).await;
        let id = lee["id"].as_str().expect("id").to_owned();
        let (status, patched) = scim
            .patch(
                &format!("/scim/v2/Users/{id}"),
                json!({"Operations": [{"op": "replace", "value": {"active": false}}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["active"], false);

        // The very next request of the open browser session and of the token is refused.
        assert_eq!(
            lee_web.get("/api/v1/me").await.status(),
            StatusCode::UNAUTHORIZED
        );
        let (status, _) = lee_api.get("/api/v1/me").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let again = app
            .browser()
            .submit(
                "/login",
                "/login",
                &[("email", LEE), ("password", PASSWORD), ("next", "/")],
            )
            .await;
        assert_ne!(
            again.status(),
            StatusCode::SEE_OTHER,
            "no sign-in while inactive"
        );
        assert_eq!(
            app.db
                .count(&format!(
                    "SELECT COUNT(*) FROM sessions WHERE user_id = '{id}'"
                ))
                .await,
            0
        );

        // Contributions stay; the anonymous one stays without an author.
        let (_, loops) = admin.get("/api/v1/teams/ops/loops").await;
        assert_eq!(loops["total"], 2, "{loops}");
        assert_eq!(
            app.db
                .count("SELECT COUNT(*) FROM loops WHERE anonymous AND author_id IS NOT NULL")
                .await,
            0
        );
        let scim_tables = app.db.dump("SELECT * FROM scim_users").await;
        let anonymous_ids = app.db.dump("SELECT id FROM loops WHERE anonymous").await;
        for row in &scim_tables {
            for (_, value) in row {
                for loop_row in &anonymous_ids {
                    assert!(!value.contains(&loop_row[0].1), "a SCIM row names a loop");
                }
            }
        }
        let (_, listed) = scim.get("/scim/v2/Users").await;
        for loop_row in &anonymous_ids {
            assert!(!listed.to_string().contains(&loop_row[0].1));
        }

        // Reactivation lets the account back in (sessions and tokens stay ended).
        let (status, back) = scim
            .patch(
                &format!("/scim/v2/Users/{id}"),
                json!({"Operations": [{"op": "replace", "path": "active", "value": true}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{back}");
        app.sign_in(LEE).await;
        let (status, _) = lee_api.get("/api/v1/me").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        // DELETE deactivates too and hides the account from SCIM.
        let (status, _) = scim.delete(&format!("/scim/v2/Users/{id}")).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = scim.get(&format!("/scim/v2/Users/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, loops) = admin.get("/api/v1/teams/ops/loops").await;
        assert_eq!(loops["total"], 2, "{loops}");

        let (_, audit) = admin
            .get("/api/v1/audit?action=scim.user_deactivated")
            .await;
        assert_eq!(audit.as_array().map(Vec::len), Some(2), "{audit}");
    }
);

story!(groups_are_teams, |app: TestApp| async move {
    app.set_up().await;
    let admin = app.token_for(ADA).await;
    app.create_user(LEE, "Lee Lead", false).await;
    let scim = scim(&app).await;
    let lee = find_user(&scim, &format!(r#"userName eq "{LEE}""#)).await;
    let ada = find_user(&scim, &format!(r#"userName eq "{ADA}""#)).await;
    let (status, group) = scim
        .post(
            "/scim/v2/Groups",
            json!({"displayName": "Platform", "members": [{"value": lee["id"]}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let id = group["id"].as_str().expect("id").to_owned();
    let (status, team) = admin.get("/api/v1/teams/platform/members").await;
    assert_eq!(status, StatusCode::OK, "{team}");
    assert!(team.to_string().contains(LEE), "{team}");

    let (status, patched) = scim
        .patch(
            &format!("/scim/v2/Groups/{id}"),
            json!({"Operations": [
                {"op": "add", "path": "members", "value": [{"value": ada["id"]}]},
                {"op": "remove", "path": format!("members[value eq \"{}\"]", lee["id"].as_str().unwrap_or(""))},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["members"].as_array().map(Vec::len), Some(1));
    assert_eq!(patched["members"][0]["value"], ada["id"]);
    let (_, team) = admin.get("/api/v1/teams/platform/members").await;
    assert!(!team.to_string().contains(LEE), "{team}");

    let (_, found) = scim
        .get(&format!(
            "/scim/v2/Groups?filter={}",
            urlencode(r#"displayName eq "Platform""#)
        ))
        .await;
    assert_eq!(found["totalResults"], 1, "{found}");

    // Deleting the group unlinks it; the team stays.
    let (status, _) = scim.delete(&format!("/scim/v2/Groups/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = scim.get(&format!("/scim/v2/Groups/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = admin.get("/api/v1/teams/platform").await;
    assert_eq!(status, StatusCode::OK);
    let (_, audit) = admin.get("/api/v1/audit?action=scim.group_changed").await;
    assert_eq!(audit.as_array().map(Vec::len), Some(3), "{audit}");
});
