//! OpenID Connect sign-in against the real provider (`oidc_provider`): just-in-time accounts,
//! linking by verified email, the group→team mapping, SSO-only, and tokens the app must refuse
//! (wrong audience, expired, signed by a stranger, another nonce, a replay) with nothing stored.
//! Each story runs on SQLite and on PostgreSQL.

use std::net::TcpListener;

use failforward::domain::sso::{GroupMapping, SsoValues};
use failforward::domain::Email;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{location, Backend, TestApp, PASSWORD};
use crate::oidc_provider::{
    browser_client, sign_in_at_provider, IdTokenChange, OidcAccount, OidcClient, OidcProvider,
    ProviderConfig, SignWith,
};

pub const CLIENT_ID: &str = "failforward";
pub const CLIENT_SECRET: &str = "a client secret long enough for the provider";

/// The app and its provider, one pair per test.
pub struct Sso {
    pub app: TestApp,
    pub provider: OidcProvider,
}

impl Sso {
    /// Starts the provider with the standard accounts, then the app pointed at it; `None`
    /// where the provider or the backend is not available here.
    pub async fn start(backend: Backend, sso_only: bool) -> Option<Sso> {
        Self::start_configured(backend, move |issuer| SsoValues {
            enabled: Some(true),
            issuer_url: Some(issuer.to_owned()),
            client_id: Some(CLIENT_ID.to_owned()),
            client_secret: Some(CLIENT_SECRET.to_owned()),
            scopes: Some(vec!["groups".to_owned()]),
            groups_claim: Some("groups".to_owned()),
            group_teams: Some(vec![
                GroupMapping::parse("sre=platform:lead").expect("mapping"),
                GroupMapping::parse("dev=platform:member").expect("mapping"),
            ]),
            sso_only: Some(sso_only),
            break_glass_email: Some(Email::parse("ada@example.org").expect("email")),
        })
        .await
    }

    /// Starts the provider, then the app with `configure(issuer)` as the single sign-on values
    /// of its settings file (`SsoValues::default()`: none, for an admin to set).
    pub async fn start_configured(
        backend: Backend,
        configure: impl FnOnce(&str) -> SsoValues,
    ) -> Option<Sso> {
        // The provider must know the app's callback before the app exists: the app gets a
        // port chosen here (discovery happens at the first sign-in, after both run).
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let callback = format!("http://127.0.0.1:{port}/login/sso/callback");
        let provider = OidcProvider::start(ProviderConfig {
            clients: vec![OidcClient::new(CLIENT_ID, CLIENT_SECRET, &callback)],
            accounts: vec![
                OidcAccount::new("grace-sub", "grace@example.org", "Grace Hopper"),
                OidcAccount::new("ada-sub", "ada@example.org", "Ada at the provider"),
                // A second identity at the provider claiming Ada's (verified) address.
                OidcAccount::new("ada-again-sub", "ada@example.org", "Another Ada"),
                OidcAccount::new("mallory-sub", "mallory@example.org", "Mallory").unverified(),
                OidcAccount::new("sre-sub", "sre@example.org", "Sam Reliability")
                    .in_groups(&["sre", "elsewhere"]),
                OidcAccount::new("dev-sub", "dev@example.org", "Dee Veloper").in_groups(&["dev"]),
            ],
        })
        .await?;
        let configured = configure(provider.issuer());
        let app = TestApp::spawn_with(backend, move |settings| {
            settings.bind = ([127, 0, 0, 1], port).into();
            settings.policy.sso_configured = configured;
        })
        .await?;
        // The organisation and its first admin, ada@example.org, with a password.
        app.set_up().await;
        Some(Sso { app, provider })
    }

    /// Signs in as the provider account `login` in a fresh browser; returns the browser and
    /// the app's answer to the provider's redirect.
    pub async fn sign_in(&self, login: &str) -> (reqwest::Client, reqwest::Response) {
        let browser = browser_client();
        let response =
            sign_in_at_provider(&browser, &self.app.url("/login/sso?next=/teams"), login).await;
        (browser, response)
    }

    /// Signs in and checks that it worked: redirected to `next`, and signed in afterwards.
    pub async fn signs_in(&self, login: &str) -> reqwest::Client {
        let (browser, response) = self.sign_in(login).await;
        let status = response.status();
        let to = location(&response);
        let body = response.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::SEE_OTHER, "{login} signs in: {body}");
        assert_eq!(to, "/teams");
        let page = browser
            .get(self.app.url("/teams"))
            .send()
            .await
            .expect("GET /teams");
        assert_eq!(page.status(), StatusCode::OK, "{login} is signed in");
        browser
    }

    /// Signs in and checks that the app refused: 403 and a page saying why.
    pub async fn refused(&self, login: &str) -> String {
        let (browser, response) = self.sign_in(login).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{login} refused");
        let body = response.text().await.expect("the refusal page");
        let page = browser
            .get(self.app.url("/teams"))
            .send()
            .await
            .expect("GET /teams");
        assert_eq!(
            page.status(),
            StatusCode::SEE_OTHER,
            "no session after a refusal"
        );
        body
    }

    pub async fn count(&self, sql: &str) -> i64 {
        self.app.db.count(sql).await
    }

    pub async fn audit(&self, action: &str) -> i64 {
        self.count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = '{action}'"
        ))
        .await
    }
}

/// Runs `body` with an app and provider on SQLite and on PostgreSQL (skipped where the
/// provider or PostgreSQL is missing).
macro_rules! sso_story {
    ($name:ident, $sso_only:expr, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(sso) = Sso::start(Backend::Sqlite, $sso_only).await {
                    ($body)(sso).await;
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(sso) = Sso::start(Backend::Postgres, $sso_only).await {
                    ($body)(sso).await;
                }
            }
        }
    };
}

sso_story!(
    a_first_sign_in_creates_the_account_and_the_next_reuses_it,
    false,
    |sso: Sso| async move {
        sso.signs_in("grace-sub").await;
        let users =
            "SELECT COUNT(*) FROM users WHERE email = 'grace@example.org' AND password_hash = ''";
        assert_eq!(
            sso.count(users).await,
            1,
            "a just-in-time account without a password"
        );
        assert_eq!(
            sso.count("SELECT COUNT(*) FROM users WHERE display_name = 'Grace Hopper'")
                .await,
            1,
            "named as the provider names her"
        );
        assert_eq!(
            sso.count("SELECT COUNT(*) FROM sso_identities WHERE subject = 'grace-sub'")
                .await,
            1
        );
        assert_eq!(sso.audit("sso.account_created").await, 1);
        assert_eq!(sso.audit("sso.sign_in").await, 1);

        sso.signs_in("grace-sub").await;
        assert_eq!(
            sso.count(users).await,
            1,
            "the second sign-in reuses the account"
        );
        assert_eq!(sso.audit("sso.account_created").await, 1);
        assert_eq!(sso.audit("sso.sign_in").await, 2);
        assert_eq!(
            sso.count(
                "SELECT COUNT(*) FROM sessions JOIN users ON users.id = sessions.user_id \
             WHERE users.email = 'grace@example.org'"
            )
            .await,
            2
        );
    }
);

sso_story!(
    an_existing_account_is_linked_by_its_verified_email,
    false,
    |sso: Sso| async move {
        sso.signs_in("ada-sub").await;
        assert_eq!(
            sso.count("SELECT COUNT(*) FROM users WHERE email = 'ada@example.org'")
                .await,
            1,
            "no second account"
        );
        assert_eq!(
        sso.count(
            "SELECT COUNT(*) FROM sso_identities JOIN users ON users.id = sso_identities.user_id \
             WHERE users.email = 'ada@example.org' AND sso_identities.subject = 'ada-sub'"
        )
        .await,
        1
    );
        assert_eq!(sso.audit("sso.account_linked").await, 1);
        assert_eq!(sso.audit("sso.account_created").await, 0);
        // Her password still works: linking does not take it away.
        sso.app.sign_in("ada@example.org").await;
        // Another identity at the provider with her address does not take the linked account
        // over: refused, nothing linked.
        let page = sso.refused("ada-again-sub").await;
        assert!(page.contains("another person"), "the page says why: {page}");
        assert_eq!(sso.count("SELECT COUNT(*) FROM sso_identities").await, 1);
        assert_eq!(
            sso.count(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'sso.refused' \
                 AND detail = 'linked_to_another'"
            )
            .await,
            1
        );
    }
);

sso_story!(
    an_unverified_email_is_refused_with_a_clear_page,
    false,
    |sso: Sso| async move {
        let before = sso.count("SELECT COUNT(*) FROM users").await;
        let page = sso.refused("mallory-sub").await;
        assert!(page.contains("not verified"), "the page says why: {page}");
        assert_eq!(sso.count("SELECT COUNT(*) FROM users").await, before);
        assert_eq!(sso.count("SELECT COUNT(*) FROM sso_identities").await, 0);
        assert_eq!(
            sso.count(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'sso.refused' \
             AND detail = 'email_not_verified'"
            )
            .await,
            1
        );
    }
);

sso_story!(
    groups_map_to_teams_at_every_sign_in,
    false,
    |sso: Sso| async move {
        let ada = sso.app.token_for("ada@example.org").await;
        let (status, _) = ada.post("/api/v1/teams", json!({"name": "Platform"})).await;
        assert_eq!(status, StatusCode::CREATED);
        let role = |email: &str| {
            format!(
                "SELECT COUNT(*) FROM memberships JOIN users ON users.id = memberships.user_id \
             JOIN teams ON teams.id = memberships.team_id \
             WHERE teams.slug = 'platform' AND users.email = '{email}' AND memberships.role = "
            )
        };
        sso.signs_in("sre-sub").await;
        assert_eq!(
            sso.count(&format!("{}'lead'", role("sre@example.org")))
                .await,
            1
        );
        sso.signs_in("dev-sub").await;
        assert_eq!(
            sso.count(&format!("{}'member'", role("dev@example.org")))
                .await,
            1
        );
        assert_eq!(
            sso.count(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'member.added' \
             AND detail LIKE '%SSO group mapping%'"
            )
            .await,
            2
        );

        // The provider moves the SRE to "dev" only: a member now.
        let mut claims = serde_json::Map::new();
        claims.insert("groups".to_owned(), json!(["dev"]));
        sso.provider
            .tamper_next(IdTokenChange {
                claims: Some(claims),
                ..IdTokenChange::default()
            })
            .await;
        sso.signs_in("sre-sub").await;
        assert_eq!(
            sso.count(&format!("{}'member'", role("sre@example.org")))
                .await,
            1
        );
        assert_eq!(sso.audit("member.role_changed").await, 1);

        // And out of every mapped group: out of the team.
        let mut claims = serde_json::Map::new();
        claims.insert("groups".to_owned(), json!([]));
        sso.provider
            .tamper_next(IdTokenChange {
                claims: Some(claims),
                ..IdTokenChange::default()
            })
            .await;
        sso.signs_in("sre-sub").await;
        assert_eq!(
            sso.count(
                "SELECT COUNT(*) FROM memberships JOIN users ON users.id = memberships.user_id \
             WHERE users.email = 'sre@example.org'"
            )
            .await,
            0
        );
        assert_eq!(sso.audit("member.removed").await, 1);
    }
);

sso_story!(
    sso_only_refuses_passwords_but_not_the_break_glass_admin,
    true,
    |sso: Sso| async move {
        sso.app.create_user("bob@example.org", "Bob", false).await;
        let browser = sso.app.browser();
        let (status, page) = browser.get_text("/login").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains("Sign in with SSO"),
            "the login page offers SSO"
        );
        let response = browser
            .submit(
                "/login",
                "/login",
                &[
                    ("email", "bob@example.org"),
                    ("password", PASSWORD),
                    ("next", "/"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let page = response.text().await.expect("page");
        assert!(page.contains("single sign-on"), "{page}");
        // The break-glass admin still signs in with a password; everyone else through SSO.
        sso.app.sign_in("ada@example.org").await;
        sso.signs_in("grace-sub").await;
    }
);

sso_story!(
    tampered_and_replayed_tokens_are_refused_with_nothing_stored,
    false,
    |sso: Sso| async move {
        let changes = [
            ("wrong audience", IdTokenChange::audience("someone-else")),
            ("expired", IdTokenChange::expires_in(-3600)),
            (
                "bad signature",
                IdTokenChange::signed_by(SignWith::Stranger),
            ),
            ("unsigned", IdTokenChange::signed_by(SignWith::None)),
            ("another nonce", IdTokenChange::nonce("not-the-one-sent")),
        ];
        for (what, change) in changes {
            sso.provider.tamper_next(change).await;
            let page = sso.refused("grace-sub").await;
            assert!(page.contains("not valid"), "{what}: {page}");
        }
        let nothing = [
            "SELECT COUNT(*) FROM users WHERE email = 'grace@example.org'",
            "SELECT COUNT(*) FROM sso_identities",
            "SELECT COUNT(*) FROM sso_pending",
        ];
        for sql in nothing {
            assert_eq!(sso.count(sql).await, 0, "{sql}");
        }
        assert_eq!(sso.audit("sso.refused").await, 5);

        // A real sign-in; then its ID token (and so its nonce) comes back in a second one.
        sso.signs_in("grace-sub").await;
        let sessions = sso.count("SELECT COUNT(*) FROM sessions").await;
        sso.provider.tamper_next(IdTokenChange::replay_last()).await;
        sso.refused("grace-sub").await;
        assert_eq!(sso.count("SELECT COUNT(*) FROM sessions").await, sessions);

        // The provider's answer itself, sent again, finds its state spent.
        let (browser, response) = sso.sign_in("grace-sub").await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let callback = response.url().clone();
        let again = browser
            .get(callback)
            .send()
            .await
            .expect("the callback again");
        assert_eq!(again.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            sso.count("SELECT COUNT(*) FROM sessions").await,
            sessions + 1,
            "only the first answer opened a session"
        );
    }
);

sso_story!(
    a_rotated_signing_key_is_accepted,
    false,
    |sso: Sso| async move {
        // The first sign-in makes the app fetch and keep the provider's keys.
        sso.signs_in("grace-sub").await;
        let old = sso.provider.current_kid().await;
        let new = sso.provider.rotate(false).await;
        assert_ne!(old, new);
        sso.signs_in("grace-sub").await;
        assert_eq!(sso.audit("sso.sign_in").await, 2);
    }
);

/// The happy path in Chromium: the sign-in page's button, the provider's form, and back
/// signed in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_a_person_signs_in_through_the_provider() {
    use crate::browser::{click_at, wait_for_text, Driver};
    use fantoccini::Locator;

    let Some(sso) = Sso::start(Backend::Sqlite, false).await else {
        return;
    };
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let browser = driver.session().await;
    browser
        .goto(&sso.app.url("/login"))
        .await
        .expect("the sign-in page");
    click_at(&browser, "//a[@id='sso-sign-in']").await;
    let login = browser
        .wait()
        .for_element(Locator::Css("input[name='login']"))
        .await
        .expect("the provider's login form");
    login.send_keys("grace-sub").await.expect("type the login");
    browser
        .find(Locator::Css("input[name='password']"))
        .await
        .expect("the password field")
        .send_keys("any password")
        .await
        .expect("type a password");
    browser
        .find(Locator::Css("button[type='submit']"))
        .await
        .expect("the provider's button")
        .click()
        .await
        .expect("submit at the provider");
    wait_for_text(&browser, "Grace Hopper").await;
    let url = browser.current_url().await.expect("the page's address");
    assert!(
        url.as_str().starts_with(&sso.app.url("/")),
        "back at the app: {url}"
    );
    assert_eq!(sso.audit("sso.account_created").await, 1);
    browser.close().await.expect("close the browser");
}
