//! Issue 2: first run, accounts, sessions, CSRF, invitations, roles, tokens and bad input.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{csrf_in, location, TestApp, PASSWORD};
use crate::story;

story!(
    first_run_creates_the_organisation_once,
    |app: TestApp| async move {
        let visitor = app.browser();
        let (status, html) = visitor.get_text("/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            html.contains("Finish setting up"),
            "home page explains set-up"
        );

        // A wrong token is refused and writes nothing.
        let bad = visitor
            .submit(
                "/setup?token=wrong",
                "/setup",
                &[
                    ("token", "wrong"),
                    ("organisation", "Acme"),
                    ("name", "Eve"),
                    ("email", "eve@example.org"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(bad.status(), StatusCode::GONE);
        assert_eq!(app.db.count("SELECT COUNT(*) FROM users").await, 0);

        let admin = app.set_up().await;
        let (status, html) = admin.get_text("/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("Acme Learning"));
        assert!(html.contains("Ada Admin"));
        assert_eq!(app.db.count("SELECT COUNT(*) FROM organisation").await, 1);

        // The link worked once: the set-up page now sends people to sign in, and reposting fails.
        let link = app.setup_link.clone().expect("link");
        let path = link.trim_start_matches(&app.address).to_owned();
        let again = app.browser().get(&path).await;
        assert_eq!(again.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&again), "/login");
        let token = path.split("token=").nth(1).expect("token");
        let other = app.browser();
        let csrf = other.csrf("/login").await;
        let replay = other
            .post_form(
                "/setup",
                &[
                    ("csrf_token", csrf.as_str()),
                    ("token", token),
                    ("organisation", "Evil"),
                    ("name", "Eve"),
                    ("email", "eve@example.org"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(replay.status(), StatusCode::GONE);
        assert_eq!(app.db.count("SELECT COUNT(*) FROM users").await, 1);
    }
);

story!(
    set_up_with_bad_fields_names_them_and_writes_nothing,
    |app: TestApp| async move {
        let visitor = app.browser();
        let link = app.setup_link.clone().expect("link");
        let path = link.trim_start_matches(&app.address).to_owned();
        let token = path.split("token=").nth(1).expect("token").to_owned();
        let response = visitor
            .submit(
                &path,
                "/setup",
                &[
                    ("token", token.as_str()),
                    ("organisation", ""),
                    ("name", &"n".repeat(81)),
                    ("email", "not-an-email"),
                    ("password", "short"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = response.text().await.expect("body");
        for field in [
            "organisation-error",
            "name-error",
            "email-error",
            "password-error",
        ] {
            assert!(html.contains(field), "{field} is shown");
        }
        assert_eq!(app.db.count("SELECT COUNT(*) FROM organisation").await, 0);
        assert_eq!(app.db.count("SELECT COUNT(*) FROM users").await, 0);
        // The token still works after a failed attempt.
        app.set_up().await;
    }
);

story!(sign_in_and_out, |app: TestApp| async move {
    app.set_up().await;
    let browser = app.sign_in("ada@example.org").await;
    let (status, html) = browser.get_text("/account").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("ada@example.org"));
    let csrf = csrf_in(&html).expect("csrf");
    let out = browser
        .post_form("/logout", &[("csrf_token", csrf.as_str())])
        .await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let after = browser.get("/account").await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    assert!(location(&after).starts_with("/login?next=%2Faccount"));
});

story!(
    session_cookie_is_http_only_and_lax,
    |app: TestApp| async move {
        app.set_up().await;
        let browser = app.browser();
        let response = browser
            .submit(
                "/login",
                "/login",
                &[("email", "ada@example.org"), ("password", PASSWORD)],
            )
            .await;
        let cookie = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("ff_session="))
            .expect("session cookie")
            .to_owned();
        assert!(cookie.contains("HttpOnly"));
        assert!(cookie.contains("SameSite=Lax"));
        assert!(!cookie.contains("Secure"), "plain http has no Secure flag");
    }
);

story!(
    wrong_password_and_unknown_account_answer_alike,
    |app: TestApp| async move {
        app.set_up().await;
        let browser = app.browser();
        let wrong = browser
            .submit(
                "/login",
                "/login",
                &[
                    ("email", "ada@example.org"),
                    ("password", "not the password"),
                ],
            )
            .await;
        let wrong_status = wrong.status();
        let wrong_body = wrong.text().await.expect("body");
        let unknown = browser
            .submit(
                "/login",
                "/login",
                &[
                    ("email", "nobody@example.org"),
                    ("password", "not the password"),
                ],
            )
            .await;
        assert_eq!(wrong_status, StatusCode::UNAUTHORIZED);
        assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
        let unknown_body = unknown.text().await.expect("body");
        let message = "That email and password do not match an account.";
        assert!(wrong_body.contains(message) && unknown_body.contains(message));
        assert_eq!(
            app.db.count("SELECT COUNT(*) FROM sessions").await,
            1,
            "only set-up's session"
        );
    }
);

story!(
    idle_and_absolute_expiry_end_sessions,
    |app: TestApp| async move {
        let admin = app.set_up().await;
        assert_eq!(admin.get("/account").await.status(), StatusCode::OK);
        app.db
            // Use is recorded by the day: 12 hours idle count from the end of that day.
            .execute("UPDATE sessions SET last_seen_at = last_seen_at - 37 * 3600")
            .await;
        let idle = admin.get("/teams").await;
        assert_eq!(idle.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&idle), "/login?next=%2Fteams&expired=1");
        assert_eq!(app.db.count("SELECT COUNT(*) FROM sessions").await, 0);

        let again = app.sign_in("ada@example.org").await;
        assert_eq!(again.get("/account").await.status(), StatusCode::OK);
        app.db
            .execute("UPDATE sessions SET created_at = created_at - 15 * 24 * 3600")
            .await;
        let absolute = again.get("/account").await;
        assert_eq!(absolute.status(), StatusCode::SEE_OTHER);
        assert!(location(&absolute).contains("expired=1"));
    }
);

story!(
    forms_without_a_valid_csrf_token_are_refused,
    |app: TestApp| async move {
        let admin = app.set_up().await;
        let missing = admin.post_form("/teams", &[("name", "Payments")]).await;
        assert_eq!(missing.status(), StatusCode::FORBIDDEN);
        let wrong = admin
            .post_form("/teams", &[("name", "Payments"), ("csrf_token", "forged")])
            .await;
        assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
        // A token from another session does not work either.
        let other = app.sign_in("ada@example.org").await;
        let foreign = other.csrf("/teams").await;
        let cross = admin
            .post_form(
                "/teams",
                &[("name", "Payments"), ("csrf_token", foreign.as_str())],
            )
            .await;
        assert_eq!(cross.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.db.count("SELECT COUNT(*) FROM teams").await, 0);
        // The login form is protected too (login CSRF).
        let fresh = app.browser();
        let login = fresh
            .post_form(
                "/login",
                &[("email", "ada@example.org"), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(login.status(), StatusCode::FORBIDDEN);
        // The JSON API accepts a browser session only with the X-CSRF-Token header.
        let api = admin
            .client
            .post(format!("{}/api/v1/teams", app.address))
            .json(&json!({"name": "Payments"}))
            .send()
            .await
            .expect("post");
        assert_eq!(api.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.db.count("SELECT COUNT(*) FROM teams").await, 0);
        let token = admin.csrf("/teams").await;
        let allowed = admin
            .client
            .post(format!("{}/api/v1/teams", app.address))
            .header("x-csrf-token", token)
            .json(&json!({"name": "Payments"}))
            .send()
            .await
            .expect("post");
        assert_eq!(allowed.status(), StatusCode::CREATED);
    }
);

story!(
    a_team_is_created_with_its_creator_as_lead,
    |app: TestApp| async move {
        let admin = app.set_up().await;
        let created = admin
            .submit(
                "/teams",
                "/teams",
                &[
                    ("name", "Payments Platform"),
                    ("description", "Money in, money out"),
                ],
            )
            .await;
        assert_eq!(created.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            location(&created),
            "/teams/payments-platform?notice=team-created"
        );
        let (status, html) = admin.get_text("/teams/payments-platform").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("Payments Platform") && html.contains("lead"));
        // Same name again gets a suffixed slug.
        let second = admin
            .submit("/teams", "/teams", &[("name", "Payments Platform")])
            .await;
        assert_eq!(
            location(&second),
            "/teams/payments-platform-2?notice=team-created"
        );
    }
);

story!(invitation_link_works_once, |app: TestApp| async move {
    let admin = app.set_up().await;
    admin
        .submit("/teams", "/teams", &[("name", "Payments")])
        .await;
    let response = admin
        .submit(
            "/teams/payments/members",
            "/teams/payments/invitations",
            &[("role", "member"), ("email", "bo@example.org")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let html = response.text().await.expect("body");
    let start = html
        .find(&format!("{}/invite/", app.address))
        .expect("link shown");
    let link: String = html[start..].chars().take_while(|c| *c != '"').collect();
    let path = link.trim_start_matches(&app.address).to_owned();
    assert_eq!(
        app.db
            .count("SELECT COUNT(*) FROM invitations WHERE token_hash LIKE '%invite%'")
            .await,
        0
    );

    let newcomer = app.browser();
    let (status, page) = newcomer.get_text(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Join Payments") && page.contains("bo@example.org"));
    let joined = newcomer
        .submit(
            &path,
            &path,
            &[
                ("name", "Bo Member"),
                ("email", "bo@example.org"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(joined.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&joined), "/teams/payments?notice=joined");
    assert_eq!(
        newcomer.get("/teams/payments").await.status(),
        StatusCode::OK
    );

    // A second use, by anyone, is refused and creates nothing.
    let late = app.browser();
    assert_eq!(late.get(&path).await.status(), StatusCode::GONE);
    let csrf = late.csrf("/login").await;
    let replay = late
        .post_form(
            &path,
            &[
                ("csrf_token", csrf.as_str()),
                ("name", "Mallory"),
                ("email", "mallory@example.org"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(replay.status(), StatusCode::GONE);
    assert_eq!(app.db.count("SELECT COUNT(*) FROM users").await, 2);
    assert_eq!(
        app.db
            .count("SELECT COUNT(*) FROM memberships JOIN teams ON teams.id = memberships.team_id WHERE teams.slug = 'payments'")
            .await,
        2
    );
});

story!(
    expired_and_withdrawn_invitations_are_refused,
    |app: TestApp| async move {
        app.create_user("ada@example.org", "Ada", true).await;
        let api = app.token_for("ada@example.org").await;
        api.post("/api/v1/teams", json!({"name": "Payments"})).await;
        let (status, first) = api
            .post(
                "/api/v1/teams/payments/invitations",
                json!({"role": "member", "email": "bo@example.org"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let (_, second) = api
            .post(
                "/api/v1/teams/payments/invitations",
                json!({"role": "lead", "email": "di@example.org"}),
            )
            .await;
        let path = |v: &serde_json::Value| {
            v["link"]
                .as_str()
                .expect("link")
                .trim_start_matches(&app.address)
                .to_owned()
        };
        app.db
            .execute("UPDATE invitations SET expires_at = 0 WHERE role = 'member'")
            .await;
        assert_eq!(
            app.browser().get(&path(&first)).await.status(),
            StatusCode::GONE
        );
        let id = second["id"].as_str().expect("id");
        let (status, _) = api
            .delete(&format!("/api/v1/teams/payments/invitations/{id}"))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(
            app.browser().get(&path(&second)).await.status(),
            StatusCode::GONE
        );
        let (_, open) = api.get("/api/v1/teams/payments/invitations").await;
        assert_eq!(open, json!([]));
    }
);

story!(
    signed_in_person_accepts_and_keeps_one_account,
    |app: TestApp| async move {
        app.create_user("ada@example.org", "Ada", true).await;
        app.create_user("cy@example.org", "Cy", false).await;
        let api = app.token_for("ada@example.org").await;
        api.post("/api/v1/teams", json!({"name": "Payments"})).await;
        let (_, invitation) = api
            .post(
                "/api/v1/teams/payments/invitations",
                json!({"role": "lead", "email": "cy@example.org"}),
            )
            .await;
        let path = invitation["link"]
            .as_str()
            .expect("link")
            .trim_start_matches(&app.address)
            .to_owned();
        let cy = app.sign_in("cy@example.org").await;
        let accepted = cy.submit(&path, &path, &[]).await;
        assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
        let (_, members) = api.get("/api/v1/teams/payments/members").await;
        let cy_row = members
            .as_array()
            .expect("members")
            .iter()
            .find(|m| m["email"] == "cy@example.org")
            .expect("cy is a member");
        assert_eq!(cy_row["role"], "lead");
        assert_eq!(app.db.count("SELECT COUNT(*) FROM users").await, 2);
    }
);

story!(
    roles_change_and_a_team_keeps_a_lead,
    |app: TestApp| async move {
        app.create_user("ada@example.org", "Ada", true).await;
        app.create_user("lee@example.org", "Lee", false).await;
        app.create_user("mo@example.org", "Mo", false).await;
        let lee = app.token_for("lee@example.org").await;
        let mo = app.token_for("mo@example.org").await;
        let admin = app.token_for("ada@example.org").await;
        let (status, team) = lee.post("/api/v1/teams", json!({"name": "Ops"})).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(team["slug"], "ops");
        let (status, added) = lee
            .post(
                "/api/v1/teams/ops/members",
                json!({"email": "mo@example.org", "role": "member"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let mo_id = added["user_id"].as_str().expect("id").to_owned();
        let (_, me) = lee.get("/api/v1/me").await;
        let lee_id = me["id"].as_str().expect("id").to_owned();

        // A member cannot change roles.
        let (status, problem) = mo
            .patch(
                &format!("/api/v1/teams/ops/members/{lee_id}"),
                json!({"role": "member"}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(problem["code"], "forbidden");

        // The only lead cannot step down.
        let (status, problem) = lee
            .patch(
                &format!("/api/v1/teams/ops/members/{lee_id}"),
                json!({"role": "member"}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(problem["errors"][0]["field"], "role");
        let (status, _) = lee
            .delete(&format!("/api/v1/teams/ops/members/{lee_id}"))
            .await;
        assert_eq!(status, StatusCode::CONFLICT);

        // Promote Mo, then Lee may step down.
        let (status, _) = lee
            .patch(
                &format!("/api/v1/teams/ops/members/{mo_id}"),
                json!({"role": "lead"}),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = lee
            .patch(
                &format!("/api/v1/teams/ops/members/{lee_id}"),
                json!({"role": "member"}),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (_, team) = lee.get("/api/v1/teams/ops").await;
        assert_eq!(team["role"], "member");

        // An organisation admin who is not a member manages the team too.
        let (status, _) = admin
            .patch(
                &format!("/api/v1/teams/ops/members/{lee_id}"),
                json!({"role": "lead"}),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (_, team) = admin.get("/api/v1/teams/ops").await;
        assert_eq!(team["role"], serde_json::Value::Null);

        // Through the web page as well.
        let mo_web = app.sign_in("mo@example.org").await;
        let changed = mo_web
            .submit(
                "/teams/ops/members",
                &format!("/teams/ops/members/{lee_id}/role"),
                &[("role", "member")],
            )
            .await;
        assert_eq!(changed.status(), StatusCode::SEE_OTHER);
        let (_, team) = lee.get("/api/v1/teams/ops").await;
        assert_eq!(team["role"], "member");
    }
);

story!(
    api_contract_for_teams_and_members,
    |app: TestApp| async move {
        app.create_user("root@example.org", "Root", true).await;
        app.create_user("ada@example.org", "Ada", false).await;
        app.create_user("bo@example.org", "Bo", false).await;
        let api = app.token_for("ada@example.org").await;
        let (status, created) = api
            .post(
                "/api/v1/teams",
                json!({"name": "Équipe Zürich", "description": "Lake ops"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(created["slug"], "equipe-zurich");
        assert_eq!(created["role"], "lead");
        let (status, list) = api.get("/api/v1/teams").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list.as_array().map(Vec::len), Some(1));
        let (status, one) = api.get("/api/v1/teams/equipe-zurich").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(one["name"], "Équipe Zürich");
        let (status, member) = api
            .post(
                "/api/v1/teams/equipe-zurich/members",
                json!({"email": "BO@example.org", "role": "member"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(member["email"], "bo@example.org");
        let (status, again) = api
            .post(
                "/api/v1/teams/equipe-zurich/members",
                json!({"email": "bo@example.org", "role": "member"}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(again["errors"][0]["field"], "email");
        let (status, nobody) = api
            .post(
                "/api/v1/teams/equipe-zurich/members",
                json!({"email": "nobody@example.org", "role": "member"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(nobody["errors"][0]["field"], "email");
        let (status, updated) = api
            .patch(
                "/api/v1/teams/equipe-zurich",
                json!({"stuck_after_days": 21}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(updated["stuck_after_days"], 21);
    }
);

story!(
    bad_api_input_is_named_and_writes_nothing,
    |app: TestApp| async move {
        app.create_user("ada@example.org", "Ada", true).await;
        let api = app.token_for("ada@example.org").await;
        let (status, problem, content_type) = api
            .post_raw("/api/v1/teams", "application/json", "{\"name\": ")
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(problem["code"], "malformed_json");

        let (status, problem, _) = api
            .post_raw(
                "/api/v1/teams",
                "application/json",
                "{\"name\": \"A\", \"colour\": \"red\"}",
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "colour");

        let (status, problem, _) = api
            .post_raw("/api/v1/teams", "application/json", "{}")
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "name");

        let (status, problem, _) = api
            .post_raw("/api/v1/teams", "application/json", "{\"name\": 42}")
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "name");

        let (status, problem) = api
            .post("/api/v1/teams", json!({"name": "x".repeat(81)}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "name");
        assert!(problem["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("too long"));

        let (status, _, _) = api.post_raw("/api/v1/teams", "text/plain", "name=A").await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

        let (status, problem) = api
            .post(
                "/api/v1/teams",
                json!({"name": "Ok", "description": "d".repeat(2001)}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "description");

        // A body over the limit is refused from its announced length, before it is read: send
        // only the headers, as a client streaming a large upload would, and read the answer.
        let status_line = {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let address = app.address.trim_start_matches("http://");
            let mut stream = tokio::net::TcpStream::connect(address)
                .await
                .expect("connect");
            let request = format!(
                "POST /api/v1/teams HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                api.token,
                3 * 1024 * 1024
            );
            stream.write_all(request.as_bytes()).await.expect("write");
            let mut buffer = vec![0u8; 4096];
            let n = stream.read(&mut buffer).await.expect("read");
            String::from_utf8_lossy(&buffer[..n]).to_lowercase()
        };
        assert!(
            status_line.starts_with("http/1.1 413 payload too large"),
            "{status_line}"
        );
        assert!(
            status_line.contains("content-type: application/problem+json"),
            "{status_line}"
        );

        let (status, problem) = api.post("/api/v1/teams", json!({"name": "Ok"})).await;
        assert_eq!(status, StatusCode::CREATED, "{problem}");
        assert_eq!(app.db.count("SELECT COUNT(*) FROM teams").await, 1);
    }
);

story!(
    bad_web_input_is_shown_next_to_the_field,
    |app: TestApp| async move {
        let admin = app.set_up().await;
        let response = admin
            .submit("/teams", "/teams", &[("name", &"x".repeat(81))])
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = response.text().await.expect("body");
        assert!(html.contains("id=\"name-error\""));
        assert!(html.contains("aria-invalid=\"true\""));
        assert_eq!(app.db.count("SELECT COUNT(*) FROM teams").await, 0);
    }
);

story!(
    tokens_are_shown_once_stored_hashed_and_revocable,
    |app: TestApp| async move {
        app.create_user("ada@example.org", "Ada", true).await;
        let bootstrap = app.token_for("ada@example.org").await;
        let (status, created) = bootstrap
            .post("/api/v1/tokens", json!({"name": "laptop"}))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let secret = created["secret"].as_str().expect("secret").to_owned();
        assert!(secret.starts_with("ffp_"));
        let stored = app
        .db
        .count(&format!("SELECT COUNT(*) FROM api_tokens WHERE token_hash = '{secret}' OR prefix = '{secret}'"))
        .await;
        assert_eq!(stored, 0, "the secret itself is not stored");
        let laptop = app.api(&secret);
        let (status, me) = laptop.get("/api/v1/me").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(me["email"], "ada@example.org");
        let (_, list) = laptop.get("/api/v1/tokens").await;
        assert!(
            list.to_string().find(&secret).is_none(),
            "lists never show secrets"
        );
        let id = created["id"].as_str().expect("id");
        let (status, _) = bootstrap.delete(&format!("/api/v1/tokens/{id}")).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, problem) = laptop.get("/api/v1/me").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(problem["code"], "unauthenticated");
        let (status, _) = app.api("ffp_made_up").get("/api/v1/me").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
);

story!(
    health_readiness_and_api_reference,
    |app: TestApp| async move {
        let client = reqwest::Client::new();
        let health = client
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("healthz");
        assert_eq!(health.status(), StatusCode::OK);
        let ready = client.get(app.url("/readyz")).send().await.expect("readyz");
        assert_eq!(ready.status(), StatusCode::OK);
        assert!(ready.headers().contains_key("x-request-id"));
        let doc: serde_json::Value = client
            .get(app.url("/api/v1/openapi.json"))
            .send()
            .await
            .expect("openapi")
            .json()
            .await
            .expect("json");
        assert!(doc["openapi"].as_str().unwrap_or("").starts_with("3.1"));
        for path in [
            "/api/v1/teams",
            "/api/v1/teams/{slug}/members",
            "/api/v1/tokens",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} documented");
        }
        let docs = client
            .get(app.url("/api/docs/"))
            .send()
            .await
            .expect("docs");
        assert_eq!(docs.status(), StatusCode::OK);
        let html = docs.text().await.expect("html");
        assert!(
            !html.contains("https://"),
            "the reference page loads nothing from a CDN"
        );
        let missing = client
            .get(app.url("/api/v1/nothing"))
            .send()
            .await
            .expect("404");
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            missing
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json")
        );
    }
);

story!(
    admins_manage_people_and_keep_one_admin,
    |app: TestApp| async move {
        app.create_user("ada@example.org", "Ada", true).await;
        app.create_user("bo@example.org", "Bo", false).await;
        let ada = app.token_for("ada@example.org").await;
        let bo = app.token_for("bo@example.org").await;
        let (status, _) = bo.get("/api/v1/users").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, people) = ada.get("/api/v1/users").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(people.as_array().map(Vec::len), Some(2));
        let admin_web = app.sign_in("ada@example.org").await;
        let (_, me) = ada.get("/api/v1/me").await;
        let ada_id = me["id"].as_str().expect("id");
        let response = admin_web
            .submit(
                "/people",
                &format!("/people/{ada_id}/admin"),
                &[("is_admin", "false")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(
            app.db
                .count("SELECT COUNT(*) FROM users WHERE is_admin = TRUE")
                .await,
            1
        );
    }
);
