//! Single sign-on set by an admin (issue 22): an app started with no OpenID Connect settings
//! is pointed at the real provider through `/api/v1/sso/settings` and the "Single sign-on" page;
//! values from the settings file stay locked; the client secret is never shown again; under
//! "SSO only" an invitation is accepted through the provider, never with a password. Each story
//! runs on SQLite and on PostgreSQL.

use failforward::domain::sso::SsoValues;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{location, Api, Backend, PASSWORD};
use crate::oidc::{Sso, CLIENT_ID, CLIENT_SECRET};
use crate::oidc_provider::{browser_client, sign_in_at_provider};

const SETTINGS: &str = "/api/v1/sso/settings";

async fn put(api: &Api, body: Value) -> (StatusCode, Value) {
    api.send(Method::PUT, SETTINGS, Some(body)).await
}

/// The fields a problem+json answer names.
fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|error| error["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// What the admin sends to point the app at the test provider.
fn provider_settings(sso: &Sso) -> Value {
    json!({
        "enabled": true,
        "issuer_url": sso.provider.issuer(),
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scopes": ["groups"],
        "groups_claim": "groups",
    })
}

/// Runs `body` with a provider and an app started without single sign-on settings (or with
/// `configure`'s), on SQLite and on PostgreSQL.
macro_rules! admin_story {
    ($name:ident, $configure:expr, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(sso) = Sso::start_configured(Backend::Sqlite, $configure).await {
                    ($body)(sso).await;
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(sso) = Sso::start_configured(Backend::Postgres, $configure).await {
                    ($body)(sso).await;
                }
            }
        }
    };
}

admin_story!(
    an_admin_points_an_unconfigured_app_at_the_provider,
    |_: &str| SsoValues::default(),
    |sso: Sso| async move {
        // Nothing configured: no SSO on the sign-in page, and its start address is not there.
        let browser = sso.app.browser();
        let (_, page) = browser.get_text("/login").await;
        assert!(!page.contains("Sign in with SSO"), "{page}");
        assert_eq!(
            browser.get("/login/sso").await.status(),
            StatusCode::NOT_FOUND
        );

        let ada = sso.app.token_for("ada@example.org").await;
        sso.app
            .create_user("bob@example.org", "Bob Member", false)
            .await;
        let bob = sso.app.token_for("bob@example.org").await;
        assert_eq!(bob.get(SETTINGS).await.0, StatusCode::FORBIDDEN);
        let (status, _) = put(&bob, provider_settings(&sso)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "members may not change it");

        let (status, settings) = ada.get(SETTINGS).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(settings["active"], false);
        assert_eq!(settings["locked"], json!([]));

        // Refused changes name their field, and change nothing.
        let (status, problem) = put(&ada, json!({"issuer_url": "ftp://id.example.org"})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(fields(&problem), vec!["issuer_url"]);
        let (status, problem) = put(&ada, json!({"issuer_url": "http://id.example.org"})).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "plain http off this machine"
        );
        assert_eq!(fields(&problem), vec!["issuer_url"]);
        let (status, problem) = put(&ada, json!({"group_teams": ["sre=nowhere:lead"]})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(fields(&problem), vec!["group_teams"]);
        assert!(problem.to_string().contains("nowhere"), "{problem}");
        let (status, problem) = put(&ada, json!({"sso_only": true})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(fields(&problem), vec!["break_glass_email"]);
        let (status, problem) = put(&ada, json!({"enabled": true})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(fields(&problem), vec!["issuer_url", "client_id"]);
        assert_eq!(sso.count("SELECT COUNT(*) FROM sso_settings").await, 0);
        assert_eq!(sso.audit("sso.settings_changed").await, 0);

        // The provider, set through the API: in force at once, the secret never shown.
        let (status, settings) = put(&ada, provider_settings(&sso)).await;
        assert_eq!(status, StatusCode::OK, "{settings}");
        assert_eq!(settings["active"], true);
        assert_eq!(settings["client_secret_set"], true);
        assert!(!settings.to_string().contains(CLIENT_SECRET));
        let (_, settings) = ada.get(SETTINGS).await;
        assert!(!settings.to_string().contains(CLIENT_SECRET), "{settings}");
        assert_eq!(sso.audit("sso.settings_changed").await, 1);
        assert_eq!(
            sso.count(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'sso.settings_changed' AND target = \
                 'enabled, issuer_url, client_id, client_secret, scopes, groups_claim'"
            )
            .await,
            1,
            "one entry naming the changed fields"
        );
        let secret_anywhere = format!(
            "SELECT COUNT(*) FROM audit_log WHERE target LIKE '%{CLIENT_SECRET}%' \
             OR detail LIKE '%{CLIENT_SECRET}%'"
        );
        assert_eq!(sso.count(&secret_anywhere).await, 0);
        assert_eq!(
            sso.count(&format!(
                "SELECT COUNT(*) FROM sso_settings WHERE client_secret_sealed LIKE '%{CLIENT_SECRET}%'"
            ))
            .await,
            0,
            "stored sealed"
        );
        // The same values again change nothing and are not audited again.
        let (status, _) = put(&ada, provider_settings(&sso)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(sso.audit("sso.settings_changed").await, 1);

        sso.signs_in("grace-sub").await;
        assert_eq!(sso.audit("sso.account_created").await, 1);

        // The admin page shows it, never the secret; a bad issuer there names the field too.
        let admin = sso.app.sign_in("ada@example.org").await;
        let (status, page) = admin.get_text("/people/sso").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("Single sign-on is on"), "{page}");
        assert!(page.contains(CLIENT_ID));
        assert!(!page.contains(CLIENT_SECRET), "the secret is never shown");
        assert!(page.contains("Set. It is never shown again"), "{page}");
        let (_, people) = admin.get_text("/people").await;
        assert!(
            people.contains("href=\"/people/sso\""),
            "linked from People"
        );
        let response = admin
            .submit(
                "/people/sso",
                "/people/sso",
                &[
                    ("enabled", "on"),
                    ("issuer_url", "not a url"),
                    ("client_id", CLIENT_ID),
                    ("client_secret", ""),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = response.text().await.expect("page");
        assert!(page.contains("id=\"issuer_url-error\""), "{page}");
        assert!(!page.contains(CLIENT_SECRET));
        // Switched off on the page: the next sign-in finds no SSO.
        let response = admin
            .submit(
                "/people/sso",
                "/people/sso",
                &[
                    ("issuer_url", sso.provider.issuer()),
                    ("client_id", CLIENT_ID),
                    ("client_secret", ""),
                    ("scopes", "groups"),
                    ("groups_claim", "groups"),
                    ("group_teams", ""),
                    ("break_glass_email", ""),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&response), "/people/sso?notice=sso-saved");
        assert_eq!(
            sso.count("SELECT COUNT(*) FROM audit_log WHERE target = 'enabled'")
                .await,
            1,
            "only the box changed; the blank secret kept"
        );
        assert_eq!(
            browser.get("/login/sso").await.status(),
            StatusCode::NOT_FOUND
        );
        let (_, settings) = ada.get(SETTINGS).await;
        assert_eq!(settings["client_secret_set"], true, "{settings}");
    }
);

admin_story!(
    values_from_the_settings_file_are_locked,
    |issuer: &str| SsoValues {
        enabled: Some(true),
        issuer_url: Some(issuer.to_owned()),
        client_id: Some(CLIENT_ID.to_owned()),
        client_secret: Some(CLIENT_SECRET.to_owned()),
        ..SsoValues::default()
    },
    |sso: Sso| async move {
        let ada = sso.app.token_for("ada@example.org").await;
        let (status, settings) = ada.get(SETTINGS).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            settings["locked"],
            json!(["enabled", "issuer_url", "client_id", "client_secret"])
        );
        assert_eq!(settings["client_secret_set"], true);
        assert!(!settings.to_string().contains(CLIENT_SECRET));

        for (field, value) in [
            ("issuer_url", json!("https://elsewhere.example.org")),
            ("client_id", json!("another")),
            ("client_secret", json!("another secret")),
            ("enabled", json!(false)),
        ] {
            let (status, problem) = put(&ada, json!({ field: value })).await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{field}: {problem}"
            );
            assert_eq!(fields(&problem), vec![field]);
            assert!(problem.to_string().contains("server's configuration"));
        }
        // Giving a locked field its own value is no change; unlocked ones change.
        let (status, settings) = put(
            &ada,
            json!({"issuer_url": sso.provider.issuer(), "groups_claim": "groups"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{settings}");
        assert_eq!(settings["groups_claim"], "groups");
        assert_eq!(
            sso.count(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'sso.settings_changed' \
                 AND target = 'groups_claim'"
            )
            .await,
            1
        );

        let admin = sso.app.sign_in("ada@example.org").await;
        let (_, page) = admin.get_text("/people/sso").await;
        assert!(
            page.contains("Set by the server&#x27;s configuration")
                || page.contains("Set by the server's configuration"),
            "{page}"
        );
        assert!(page.contains("disabled"), "locked inputs are disabled");
        assert!(!page.contains(CLIENT_SECRET));
        sso.signs_in("grace-sub").await;
    }
);

admin_story!(
    under_sso_only_an_invitation_is_accepted_through_the_provider,
    |_: &str| SsoValues::default(),
    |sso: Sso| async move {
        let ada = sso.app.token_for("ada@example.org").await;
        let (status, _) = ada.post("/api/v1/teams", json!({"name": "Platform"})).await;
        assert_eq!(status, StatusCode::CREATED);
        let mut settings = provider_settings(&sso);
        settings["sso_only"] = json!(true);
        settings["break_glass_email"] = json!("ada@example.org");
        let (status, body) = put(&ada, settings).await;
        assert_eq!(status, StatusCode::OK, "{body}");

        let invite = |email: &'static str| {
            let ada = &ada;
            async move {
                let (status, invitation) = ada
                    .post(
                        "/api/v1/teams/platform/invitations",
                        json!({"role": "lead", "email": email}),
                    )
                    .await;
                assert_eq!(status, StatusCode::CREATED, "{invitation}");
                let link = invitation["link"].as_str().expect("link").to_owned();
                link[link.find("/invite/").expect("invite path")..].to_owned()
            }
        };
        let path = invite("grace@example.org").await;
        let token = path.trim_start_matches("/invite/").to_owned();

        // The page offers the provider, not a password.
        let browser = sso.app.browser();
        let (status, page) = browser.get_text(&path).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("Continue with single sign-on"), "{page}");
        assert!(!page.contains("type=\"password\""), "{page}");
        // A password sent anyway is refused, and makes no account (the page has no form, so
        // the pre-session CSRF token is taken from the sign-in page's).
        let response = browser
            .submit(
                "/login",
                &path,
                &[
                    ("name", "Grace Hopper"),
                    ("email", "grace@example.org"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let users = "SELECT COUNT(*) FROM users WHERE email = 'grace@example.org'";
        assert_eq!(sso.count(users).await, 0);

        // Someone else at the provider cannot use Grace's invitation.
        let client = browser_client();
        let start = sso.app.url(&format!("/login/sso?invitation={token}"));
        let response = sign_in_at_provider(&client, &start, "dev-sub").await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            sso.count(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'sso.refused' \
                 AND detail = 'invitation_for_another'"
            )
            .await,
            1
        );
        assert_eq!(
            sso.count("SELECT COUNT(*) FROM users WHERE email = 'dev@example.org'")
                .await,
            0,
            "no account for the wrong person"
        );

        // Grace signs in at the provider and joins the team as the invitation says.
        let client = browser_client();
        let response = sign_in_at_provider(&client, &start, "grace-sub").await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&response), "/teams/platform?notice=joined");
        assert_eq!(sso.count(users).await, 1);
        assert_eq!(
            sso.count(
                "SELECT COUNT(*) FROM memberships JOIN users ON users.id = memberships.user_id \
                 JOIN teams ON teams.id = memberships.team_id WHERE teams.slug = 'platform' \
                 AND users.email = 'grace@example.org' AND memberships.role = 'lead'"
            )
            .await,
            1
        );
        assert_eq!(
            sso.count(
                "SELECT COUNT(*) FROM invitations WHERE email = 'grace@example.org' \
                 AND accepted_at IS NOT NULL"
            )
            .await,
            1,
            "used up"
        );
        assert_eq!(sso.audit("invitation.accepted").await, 1);
        let page = client
            .get(sso.app.url("/teams/platform"))
            .send()
            .await
            .expect("the team page");
        assert_eq!(page.status(), StatusCode::OK, "signed in");
        // Used once: the link and the provider route both refuse it now.
        assert_eq!(browser.get(&path).await.status(), StatusCode::GONE);
        let again = browser_client()
            .get(&start)
            .send()
            .await
            .expect("start again");
        assert_eq!(again.status(), StatusCode::GONE);
    }
);
