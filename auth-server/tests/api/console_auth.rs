//! The console's accounts, sessions and request protection: sign-in, the session cookie,
//! CSRF and Origin checks, logout, session ends (disable, password change, idle, absolute),
//! TOTP, setup links, the security headers, and `auth-server operator …`.

use std::io::Write;
use std::process::{Command, Stdio};

use auth_server::service::audit::AuditContext;
use auth_server::service::operators::{self, Email, Password, Role};
use auth_server::service::sessions;
use shared::db::Db;

use crate::console_helpers::*;
use crate::helpers::{spawn_app, spawn_app_with, spawn_on, test_kek, TestDb, ISSUER};

// --- sign-in -----------------------------------------------------------------------------------

#[actix_web::test]
async fn the_right_password_signs_in_and_wrong_or_unknown_get_one_answer() {
    let app = spawn_app().await;
    add_operator(&app, "ada@example.com", Role::Admin).await;

    let mut wrong = Browser::new(&app);
    let resp = wrong
        .login("ada@example.com", "not the password at all", "")
        .await;
    assert_eq!(resp.status(), 401);
    assert!(wrong.session().is_none());
    let wrong_body = resp.text().await.unwrap();
    assert!(wrong_body.contains(INVALID));
    assert!(!wrong_body.contains("not the password at all"));

    let mut unknown = Browser::new(&app);
    let resp = unknown.login("nobody@example.com", PASSWORD, "").await;
    assert_eq!(resp.status(), 401);
    let unknown_body = resp.text().await.unwrap();
    assert!(unknown_body.contains(INVALID));
    assert!(!unknown_body.contains(PASSWORD));
    // The same page but for the typed email and the form's token.
    let normalise =
        |body: &str, email: &str| body.replace(email, "EMAIL").replace(&csrf_in(body), "CSRF");
    assert_eq!(
        normalise(&wrong_body, "ada@example.com"),
        normalise(&unknown_body, "nobody@example.com")
    );

    let mut right = Browser::new(&app);
    // Emails are case- and space-insensitive.
    let resp = right.login("  Ada@Example.com ", PASSWORD, "").await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/console/applications");
    assert!(right.session().is_some());
    let resp = right.get("/console/account").await;
    assert_eq!(resp.status(), 200);
    let page = resp.text().await.unwrap();
    assert!(page.contains("ada@example.com") && page.contains("admin"));
    // Signed in, the login page sends the operator on; `/console` goes to the applications.
    assert_eq!(
        location(&right.get("/console/login").await),
        "/console/applications"
    );
    assert_eq!(
        location(&right.get("/console").await),
        "/console/applications"
    );

    // Refused sign-ins reach the trail aggregated (one event per source, target and window):
    // here ada's wrong password and the unknown email, one each.
    app.refusals
        .flush(&db_of(&app), shared::time::now_micros())
        .unwrap();
    let events = audit_actions(&app).await;
    let logins: Vec<_> = events.iter().filter(|e| e.0 == "session.login").collect();
    assert_eq!(logins.len(), 3, "{events:?}");
    assert_eq!(logins.iter().filter(|e| e.1 == "denied").count(), 2);
    // Nothing the client typed is stored: not an unknown email, not a password.
    assert!(events.iter().all(|e| !e.2.contains("nobody@example.com")));
    assert!(events.iter().all(|e| !e.2.contains(PASSWORD)));
}

#[actix_web::test]
async fn a_flood_of_failed_sign_ins_is_one_event_per_source_and_target_with_a_count() {
    let app = spawn_app().await;
    let ada = add_operator(&app, "ada@example.com", Role::Developer).await;
    // Attacker-chosen text in the email field: emails of nobody, a password typed there.
    for i in 0..6 {
        let typed = if i % 2 == 0 {
            format!("nobody{i}@example.com")
        } else {
            "correct horse battery staple".to_owned()
        };
        Browser::new(&app)
            .login(&typed, "wrong password 123", "")
            .await;
    }
    for _ in 0..3 {
        Browser::new(&app)
            .login("ada@example.com", "wrong password 123", "")
            .await;
    }
    // Nothing is written per attempt.
    let before: Vec<_> = audit_actions(&app)
        .await
        .into_iter()
        .filter(|e| e.0 == "session.login")
        .collect();
    assert!(before.is_empty(), "{before:?}");
    app.refusals
        .flush(&db_of(&app), shared::time::now_micros())
        .unwrap();
    let rows: Vec<serde_json::Value> = {
        use diesel::prelude::*;
        use shared::db::schema::audit_events::dsl::*;
        db_of(&app)
            .run(|c| {
                audit_events
                    .filter(action.eq("session.login"))
                    .order(seq.asc())
                    .select((target, source, outcome, fields))
                    .load::<(String, Option<String>, String, String)>(c)
            })
            .await
            .unwrap()
            .into_iter()
            .map(|(t, s, o, f)| serde_json::json!({"target": t, "source": s, "outcome": o, "fields": serde_json::from_str::<serde_json::Value>(&f).unwrap()}))
            .collect()
    };
    assert_eq!(rows.len(), 2, "{rows:?}");
    let unknown = rows.iter().find(|r| r["target"] == "").unwrap();
    let named = rows
        .iter()
        .find(|r| r["target"] == ada.id.as_str())
        .unwrap();
    assert_eq!(unknown["fields"]["count"], 6, "{unknown}");
    assert_eq!(named["fields"]["count"], 3, "{named}");
    for r in &rows {
        assert_eq!(r["outcome"], "denied");
        assert_eq!(r["source"], "127.0.0.1");
        let text = r.to_string();
        assert!(
            !text.contains("nobody") && !text.contains("horse"),
            "{text}"
        );
    }
}

/// The value of the metric line `name` (with its labels) on `/metrics`, 0 when absent.
async fn metric(app: &crate::helpers::TestApp, name: &str) -> f64 {
    let text = app
        .http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

const CHECKS: &str = "caseforge_auth_password_checks_total";

#[actix_web::test]
async fn guessing_one_account_is_locked_out_before_any_check_but_its_owners_browser_signs_in() {
    let app = spawn_app().await;
    add_operator(&app, "ada@example.com", Role::Developer).await;
    // The owner signed in from this browser before: it holds ada's device cookie.
    let mut owner = Browser::new(&app);
    owner.sign_in("ada@example.com", PASSWORD).await;
    assert!(
        owner.cookies.contains_key("cf_device"),
        "{:?}",
        owner.cookies
    );
    let device = owner.cookies["cf_device"].clone();
    assert!(
        !device.contains("ada"),
        "the device cookie names no account"
    );

    // Five wrong passwords from a browser without it, then the account is locked for such
    // browsers: answered 429 before any database lookup or bcrypt, even for the right password.
    let mut attacker = Browser::new(&app);
    for _ in 0..5 {
        let resp = attacker
            .login("ada@example.com", "wrong password 123", "")
            .await;
        assert_eq!(resp.status(), 401);
    }
    let checks = metric(&app, CHECKS).await;
    for password in ["wrong password 123", PASSWORD] {
        let resp = attacker.login("ada@example.com", password, "").await;
        assert_eq!(resp.status(), 429, "refused without a check");
        let retry: u64 = header(&resp, "retry-after").parse().unwrap();
        assert!((55..=60).contains(&retry), "a one-minute lock: {retry}");
        assert!(resp
            .text()
            .await
            .unwrap()
            .contains("Too many attempts; retry in"));
    }
    assert_eq!(
        metric(&app, CHECKS).await,
        checks,
        "a locked attempt costs no bcrypt"
    );
    assert_eq!(
        metric(
            &app,
            "caseforge_auth_console_sign_ins_total{outcome=\"throttled\"}"
        )
        .await,
        2.0
    );
    // Another address's guesses at the same account meet the same lock (this test's requests
    // all come from one address; the lock is per account, whatever the address).
    assert_eq!(
        Browser::new(&app)
            .login("ada@example.com", PASSWORD, "")
            .await
            .status(),
        429
    );

    // The owner's browser draws from its own budget: it still signs in.
    owner.cookies.remove("cf_session");
    let resp = owner.login("ada@example.com", PASSWORD, "").await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    assert_eq!(location(&resp), "/console/applications");
    // (The cookie is bound to ada's account: `service::devices` tests another account's.)
}

#[actix_web::test]
async fn a_throttled_source_is_answered_429_before_any_check() {
    let app = spawn_app().await;
    add_operator(&app, "ada@example.com", Role::Developer).await;
    // Ten failures from one address, each on another account: the address's budget is spent.
    for i in 0..10 {
        let resp = Browser::new(&app)
            .login(&format!("user{i}@example.com"), "wrong password 123", "")
            .await;
        assert_eq!(resp.status(), 401);
    }
    let checks = metric(&app, CHECKS).await;
    assert_eq!(checks, 10.0);
    // Past it, nothing is checked from that address, not even the right password.
    let resp = Browser::new(&app)
        .login("ada@example.com", PASSWORD, "")
        .await;
    assert_eq!(resp.status(), 429);
    let retry: u64 = header(&resp, "retry-after").parse().unwrap();
    assert!((1..=6).contains(&retry), "{retry}");
    assert_eq!(
        metric(&app, CHECKS).await,
        checks,
        "no bcrypt for a throttled source"
    );
}

#[actix_web::test]
async fn wrong_totp_codes_lock_the_account_before_its_password_is_checked() {
    let app = spawn_app().await;
    add_operator(&app, "ada@example.com", Role::Developer).await;
    // Two browsers of the owner, each with its own device budget of five.
    let mut b = Browser::new(&app);
    b.sign_in("ada@example.com", PASSWORD).await;
    b.cookies.remove("cf_session");
    let mut a = Browser::new(&app);
    let key = enrol_totp(&mut a, "ada@example.com").await;
    a.cookies.remove("cf_session");
    // The enrolment used the current step's code; the next step's is still unused.
    let next = operators::totp_code(&key, shared::time::now_micros() + 30_000_000).unwrap();
    // Five wrong codes with the right password, across both: the codes are locked for the
    // account, whichever browser asks.
    let wrong = |c: &str| {
        if c == "000000" {
            "111111".to_owned()
        } else {
            "000000".to_owned()
        }
    };
    let wrong = wrong(&next);
    for i in 0..5 {
        let browser = if i < 3 { &mut a } else { &mut b };
        let resp = browser.login("ada@example.com", PASSWORD, &wrong).await;
        assert_eq!(resp.status(), 401);
    }
    let checks = metric(&app, CHECKS).await;
    let resp = a.login("ada@example.com", PASSWORD, &next).await;
    assert_eq!(
        resp.status(),
        429,
        "the right code is not checked while locked"
    );
    // A locked answer does not depend on the password: no oracle for it.
    let resp = a
        .login("ada@example.com", "wrong password 123", &next)
        .await;
    assert_eq!(resp.status(), 429);
    assert_eq!(metric(&app, CHECKS).await, checks, "no bcrypt while locked");
}

#[actix_web::test]
async fn after_a_kek_rotation_two_step_sign_in_still_works_and_the_secret_is_resealed() {
    use auth_server::db::operators::OperatorRow;
    use auth_server::kek::{self, Kek};

    let app = spawn_app().await;
    let ada = add_operator(&app, "ada@example.com", Role::Admin).await;
    let key = enrol_totp(&mut Browser::new(&app), "ada@example.com").await;
    let stored = |db: &Db| {
        let id = ada.id.clone();
        db.run_blocking(move |c| OperatorRow::find(c, &id))
            .unwrap()
            .unwrap()
            .totp_secret
            .unwrap()
    };
    assert_eq!(
        kek::sealed_with(&stored(&db_of(&app))),
        Some(test_kek().id())
    );

    // The operator rotates the KEK: the new one current, the old one previous.
    let new_kek = Kek::from_bytes([7; 32]);
    let rotated = spawn_on(app.db, |c| {
        c.signing_key_encryption_key = Some(new_kek.clone());
        c.previous_signing_key_encryption_key = Some(test_kek());
    })
    .await;
    let sealed = stored(&db_of(&rotated));
    assert_eq!(
        kek::sealed_with(&sealed),
        Some(new_kek.id()),
        "re-sealed at start"
    );
    assert!(new_kek
        .open(&format!("operator-totp:{}", ada.id), &sealed)
        .is_ok());

    // The next code signs ada in (the enrolment used the current one).
    let code = operators::totp_code(&key, shared::time::now_micros() + 30_000_000).unwrap();
    let resp = Browser::new(&rotated)
        .login("ada@example.com", PASSWORD, &code)
        .await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    let events = audit_actions(&rotated).await;
    assert!(
        events.iter().any(|e| e.0 == "operator.totp_reseal"),
        "{events:?}"
    );
}

/// During a rolling KEK rotation a replica still on the old KEK alone may enrol an operator
/// after another replica started with both: the latter opens that secret with the previous KEK.
#[actix_web::test]
async fn a_replica_with_both_keks_opens_a_totp_secret_sealed_by_one_still_on_the_old() {
    use auth_server::kek::Kek;

    let old_only = spawn_app().await;
    add_operator(&old_only, "bea@example.com", Role::Admin).await;
    let mut on_old = Browser::new(&old_only);
    let both = spawn_on(old_only.db, |c| {
        c.signing_key_encryption_key = Some(Kek::from_bytes([7; 32]));
        c.previous_signing_key_encryption_key = Some(test_kek());
    })
    .await;
    let key = enrol_totp(&mut on_old, "bea@example.com").await;
    let code = operators::totp_code(&key, shared::time::now_micros() + 30_000_000).unwrap();
    let resp = Browser::new(&both)
        .login("bea@example.com", PASSWORD, &code)
        .await;
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
}

/// Signs `b` in as `email` (password [`PASSWORD`]) and enrols TOTP; returns the key.
async fn enrol_totp(b: &mut Browser, email: &str) -> String {
    let csrf = b.sign_in(email, PASSWORD).await;
    let resp = b
        .post(
            "/console/account/totp/begin",
            &[("csrf_token", &csrf), ("current_password", PASSWORD)],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let page = b.get("/console/account").await.text().await.unwrap();
    let key = between(&page, "id=\"totp-key\">", "<").to_owned();
    let code = operators::totp_code(&key, shared::time::now_micros()).unwrap();
    let resp = b
        .post(
            "/console/account/totp/confirm",
            &[("csrf_token", &csrf), ("code", &code)],
        )
        .await;
    assert_eq!(resp.status(), 303);
    key
}

#[actix_web::test]
async fn enrolling_totp_needs_the_current_password() {
    let app = spawn_app().await;
    add_operator(&app, "ada@example.com", Role::Developer).await;
    let mut thief = Browser::new(&app);
    let csrf = thief.sign_in("ada@example.com", PASSWORD).await;
    for form in [
        vec![("csrf_token", csrf.as_str())],
        vec![
            ("csrf_token", csrf.as_str()),
            ("current_password", "a guessed password"),
        ],
    ] {
        let resp = thief.post("/console/account/totp/begin", &form).await;
        assert_eq!(resp.status(), 400);
        assert!(resp
            .text()
            .await
            .unwrap()
            .contains("The current password is not correct."));
    }
    let page = thief.get("/console/account").await.text().await.unwrap();
    assert!(!page.contains("totp-key"), "no enrolment was begun");
}

#[actix_web::test]
async fn an_admin_resets_an_operators_totp_in_the_console_and_their_sessions_end() {
    let app = spawn_app().await;
    add_operator(&app, "root@example.com", Role::Admin).await;
    let ada = add_operator(&app, "ada@example.com", Role::Developer).await;
    let mut ada_browser = Browser::new(&app);
    enrol_totp(&mut ada_browser, "ada@example.com").await;
    ada_browser.cookies.remove("cf_session");
    // Ada lost her authenticator: without a code she cannot sign in.
    assert_eq!(
        ada_browser
            .login("ada@example.com", PASSWORD, "")
            .await
            .status(),
        401
    );
    let mut admin = Browser::new(&app);
    let csrf = admin.sign_in("root@example.com", PASSWORD).await;
    let page = admin.get("/console/operators").await.text().await.unwrap();
    assert!(page.contains(&format!("/console/operators/{}/reset-totp", ada.id)));
    let resp = admin
        .post(
            &format!("/console/operators/{}/reset-totp", ada.id),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/console/operators?done=totp_reset");
    // The password alone signs in again; the reset is in the trail.
    ada_browser.sign_in("ada@example.com", PASSWORD).await;
    let events = audit_actions(&app).await;
    assert!(
        events.iter().any(|e| e.0 == "operator.totp_reset"),
        "{events:?}"
    );
    // Developers cannot reset anyone's.
    let mut dev = Browser::new(&app);
    let csrf = dev.sign_in("ada@example.com", PASSWORD).await;
    let resp = dev
        .post(
            &format!("/console/operators/{}/reset-totp", ada.id),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(resp.status(), 403);
}

#[actix_web::test]
async fn the_session_cookie_is_http_only_strict_and_scoped_to_the_console() {
    let app = spawn_app().await;
    add_operator(&app, "ada@example.com", Role::Auditor).await;
    let mut b = Browser::new(&app);
    let resp = b.login("ada@example.com", PASSWORD, "").await;
    assert_eq!(resp.status(), 303);
    let set = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("cf_session="))
        .expect("a session cookie");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    assert!(
        set.contains("Path=/console") && !set.contains("Secure"),
        "{set}"
    );
    // 32 random bytes, base64url.
    assert_eq!(b.session().unwrap().len(), 43);
}

#[actix_web::test]
async fn over_an_https_issuer_the_cookies_are_host_prefixed_and_secure() {
    let app = spawn_app_with(|c| c.common.issuer = "https://console.caseforge.test".into()).await;
    add_operator(&app, "ada@example.com", Role::Admin).await;
    // The Origin a browser sends is the issuer's, not the test's plain-http address.
    let mut b = Browser::with_origin(&app, "https://console.caseforge.test");
    let resp = b.login("ada@example.com", PASSWORD, "").await;
    assert_eq!(resp.status(), 303);
    let set: Vec<String> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session = set
        .iter()
        .find(|c| c.starts_with("__Host-cf_session="))
        .expect("a __Host- session cookie");
    assert!(
        session.contains("Secure") && session.contains("HttpOnly"),
        "{session}"
    );
    assert!(
        session.contains("SameSite=Strict") && session.contains("Path=/"),
        "{session}"
    );
    assert!(
        !session.contains("Path=/console") && !session.contains("Domain"),
        "{session}"
    );
    assert_eq!(b.get("/console/account").await.status(), 200);
    // The plain-http origin of the same host is another origin.
    let mut http_origin = Browser::with_origin(&app, "http://console.caseforge.test");
    let csrf = http_origin.login_csrf().await;
    let resp = http_origin
        .post(
            "/console/login",
            &[
                ("csrf_token", &csrf),
                ("email", "ada@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(resp.status(), 403);
}

// --- request protection ------------------------------------------------------------------------

#[actix_web::test]
async fn a_post_without_the_csrf_token_is_403_and_changes_nothing() {
    let app = spawn_app().await;
    add_operator(&app, "ada@example.com", Role::Admin).await;
    let mut b = Browser::new(&app);
    let csrf = b.sign_in("ada@example.com", PASSWORD).await;
    let change = |token: &'static str| {
        vec![
            ("csrf_token", token),
            ("current_password", PASSWORD),
            ("new_password", "another long password"),
            ("confirm_password", "another long password"),
        ]
    };
    let without: Vec<_> = change("")
        .into_iter()
        .filter(|(k, _)| *k != "csrf_token")
        .collect();
    let resp = b.post("/console/account/password", &without).await;
    assert_eq!(resp.status(), 403);
    assert!(header(&resp, "content-type").starts_with("text/html"));
    assert!(resp.text().await.unwrap().contains("<h1>Forbidden</h1>"));
    let resp = b
        .post("/console/account/password", &change("not-the-token"))
        .await;
    assert_eq!(resp.status(), 403);
    // Another session's token is no good either.
    let mut other = Browser::new(&app);
    let other_csrf = other.sign_in("ada@example.com", PASSWORD).await;
    assert_ne!(other_csrf, csrf);
    let mut form = change("");
    form[0].1 = &other_csrf;
    assert_eq!(
        b.post("/console/account/password", &form).await.status(),
        403
    );
    // The right token in a body that is not a form is refused as a bad form.
    let resp = b
        .http
        .post(format!("{}/console/account/password", b.base))
        .header("Cookie", b.cookie_header())
        .header("Origin", ORIGIN)
        .header("Content-Type", "text/plain")
        .body(format!(
            "csrf_token={csrf}&current_password=x&new_password=y"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(header(&resp, "content-type").starts_with("text/html"));
    // Nothing changed: the old password still signs in, and the session lives.
    assert_eq!(b.get("/console/account").await.status(), 200);
    let mut again = Browser::new(&app);
    again.sign_in("ada@example.com", PASSWORD).await;
    // Logout without the token is refused too.
    assert_eq!(b.post("/console/logout", &[]).await.status(), 403);
    assert_eq!(b.get("/console/account").await.status(), 200);
    // The login form without its pre-session token (or with another browser's) is refused.
    let mut fresh = Browser::new(&app);
    fresh.login_csrf().await;
    let resp = fresh
        .post(
            "/console/login",
            &[("email", "ada@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(resp.status(), 403);
    assert!(fresh.session().is_none());
}

#[actix_web::test]
async fn a_post_from_another_origin_or_without_one_is_403() {
    let app = spawn_app().await;
    add_operator(&app, "ada@example.com", Role::Admin).await;
    let mut b = Browser::new(&app);
    let csrf = b.sign_in("ada@example.com", PASSWORD).await;
    for origin in ["http://evil.test", "null", ""] {
        b.origin = origin.to_owned();
        let resp = b
            .post("/console/logout", &[("csrf_token", csrf.as_str())])
            .await;
        assert_eq!(resp.status(), 403, "Origin {origin:?}");
        assert!(header(&resp, "content-type").starts_with("text/html"));
    }
    b.origin = ORIGIN.to_owned();
    assert_eq!(
        b.get("/console/account").await.status(),
        200,
        "still signed in"
    );

    let mut evil = Browser::with_origin(&app, "http://evil.test");
    let resp = evil.login("ada@example.com", PASSWORD, "").await;
    assert_eq!(resp.status(), 403);
    assert!(evil.session().is_none());

    // Under `Referrer-Policy: no-referrer` a browser sends `Origin: null` with the console's own
    // form POSTs, and proves them same-origin with Fetch Metadata; nothing else passes.
    for (origin, site) in [
        ("null", "cross-site"),
        ("null", "same-site"),
        ("", "none"),
        ("http://evil.test", "same-origin"),
    ] {
        b.origin = origin.to_owned();
        b.fetch_site = Some(site);
        let resp = b
            .post("/console/logout", &[("csrf_token", csrf.as_str())])
            .await;
        assert_eq!(
            resp.status(),
            403,
            "Origin {origin:?}, Sec-Fetch-Site {site}"
        );
    }
    b.origin = "null".to_owned();
    b.fetch_site = Some("same-origin");
    let resp = b
        .post("/console/logout", &[("csrf_token", csrf.as_str())])
        .await;
    assert_eq!(
        resp.status(),
        303,
        "a same-origin form under no-referrer signs out"
    );
}

#[actix_web::test]
async fn every_console_answer_carries_the_security_headers() {
    let app = spawn_app().await;
    add_operator(&app, "ada@example.com", Role::Admin).await;
    let mut b = Browser::new(&app);
    let mut answers = vec![
        b.get("/console/login").await,
        b.get("/console/account").await,
        b.get("/console").await,
        b.get("/console/no-such-page").await,
        b.get("/console/static/console.css").await,
        b.get("/console/static/console.js").await,
        b.get("/console/setup?token=nope").await,
        b.post("/console/logout", &[]).await,
    ];
    b.origin = "http://evil.test".into();
    answers.push(b.post("/console/login", &[]).await);
    for resp in &answers {
        let what = resp.url().path().to_owned();
        assert_eq!(
            header(resp, "content-security-policy"),
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            "{what}"
        );
        // Not no-referrer: browsers then send `Origin: null` with the console's own forms.
        assert_eq!(header(resp, "referrer-policy"), "no-referrer", "{what}");
        assert_eq!(header(resp, "x-content-type-options"), "nosniff", "{what}");
        assert_eq!(header(resp, "x-frame-options"), "DENY", "{what}");
        assert_eq!(header(resp, "cache-control"), "no-store", "{what}");
    }
    // Error pages are HTML pages, not the API's JSON envelope; a 405 keeps its `Allow`.
    let wrong_method = b.get("/console/logout").await;
    assert_eq!(wrong_method.status(), 405);
    assert!(header(&wrong_method, "content-type").starts_with("text/html"));
    assert_eq!(header(&wrong_method, "allow"), "POST");
    assert_eq!(header(&wrong_method, "x-frame-options"), "DENY");
    let missing = b.get("/console/no-such-page").await;
    assert_eq!(missing.status(), 404);
    assert!(header(&missing, "content-type").starts_with("text/html"));
    assert!(header(&answers[4], "content-type").starts_with("text/css"));
    assert!(header(&answers[5], "content-type").starts_with("text/javascript"));
    // No inline script or style on a page.
    let page = Browser::new(&app)
        .get("/console/login")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("<script src=\"/console/static/console.js\""));
    assert!(!page.contains("<script>") && !page.contains("style="));
}

// --- session ends ------------------------------------------------------------------------------

#[actix_web::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    add_operator(&app, "ada@example.com", Role::Admin).await;
    let mut b = Browser::new(&app);
    let csrf = b.sign_in("ada@example.com", PASSWORD).await;
    let old = b.cookies.clone();
    let resp = b.post("/console/logout", &[("csrf_token", &csrf)]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/console/login");
    assert!(b.session().is_none(), "the cookie is removed");
    // The old cookie, replayed, opens nothing.
    b.cookies = old;
    let resp = b.get("/console/account").await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/console/login");
    assert!(audit_actions(&app)
        .await
        .iter()
        .any(|e| e.0 == "session.logout"));
}

#[actix_web::test]
async fn disabling_an_operator_ends_their_live_session_at_once() {
    let app = spawn_app().await;
    let ada = add_operator(&app, "ada@example.com", Role::Developer).await;
    let mut b = Browser::new(&app);
    b.sign_in("ada@example.com", PASSWORD).await;
    let db = db_of(&app);
    operators::set_disabled(
        &db,
        &AuditContext::cli(&crate::helpers::audit_key()),
        &ada.id,
        true,
        shared::time::now_micros(),
    )
    .await
    .unwrap();
    let resp = b.get("/console/account").await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/console/login");
    // And a disabled operator cannot sign in, with the same answer as a wrong password.
    let resp = Browser::new(&app)
        .login("ada@example.com", PASSWORD, "")
        .await;
    assert_eq!(resp.status(), 401);
    assert!(resp.text().await.unwrap().contains(INVALID));
    // Enabled again, the password works again.
    operators::set_disabled(
        &db,
        &AuditContext::cli(&crate::helpers::audit_key()),
        &ada.id,
        false,
        shared::time::now_micros(),
    )
    .await
    .unwrap();
    Browser::new(&app)
        .sign_in("ada@example.com", PASSWORD)
        .await;
}

#[actix_web::test]
async fn a_password_change_ends_the_other_sessions_and_keeps_this_one() {
    let app = spawn_app().await;
    add_operator(&app, "ada@example.com", Role::Admin).await;
    let mut here = Browser::new(&app);
    let mut elsewhere = Browser::new(&app);
    let csrf = here.sign_in("ada@example.com", PASSWORD).await;
    elsewhere.sign_in("ada@example.com", PASSWORD).await;
    let before = here.session().cloned();

    // A wrong current password changes nothing.
    let new = "a brand new passphrase";
    let resp = here
        .post(
            "/console/account/password",
            &[
                ("csrf_token", csrf.as_str()),
                ("current_password", "not my password!"),
                ("new_password", new),
                ("confirm_password", new),
            ],
        )
        .await;
    assert_eq!(resp.status(), 400);
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("current password is not correct"));
    // A too-short new one neither.
    let resp = here
        .post(
            "/console/account/password",
            &[
                ("csrf_token", csrf.as_str()),
                ("current_password", PASSWORD),
                ("new_password", "short"),
                ("confirm_password", "short"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(elsewhere.get("/console/account").await.status(), 200);

    let resp = here
        .post(
            "/console/account/password",
            &[
                ("csrf_token", csrf.as_str()),
                ("current_password", PASSWORD),
                ("new_password", new),
                ("confirm_password", new),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/console/account?done=password");
    assert_ne!(
        here.session().cloned(),
        before,
        "this browser gets a new session"
    );
    assert_eq!(here.get("/console/account").await.status(), 200);
    let resp = elsewhere.get("/console/account").await;
    assert_eq!(resp.status(), 303, "the other session ended");
    assert_eq!(location(&resp), "/console/login");
    assert_eq!(
        Browser::new(&app)
            .login("ada@example.com", PASSWORD, "")
            .await
            .status(),
        401
    );
    Browser::new(&app).sign_in("ada@example.com", new).await;
}

#[actix_web::test]
async fn with_a_one_minute_idle_timeout_a_session_in_use_lives_on() {
    let app = spawn_app().await;
    let ada = add_operator(&app, "ada@example.com", Role::Admin).await;
    let db = db_of(&app);
    let config = auth_server::config::ConsoleConfig {
        session_idle_secs: 60,
        ..Default::default()
    };
    let ctx = AuditContext::operator(&crate::helpers::audit_key(), &ada.id, &ada.email, None);
    let second = 1_000_000;
    let t0 = shared::time::now_micros();
    let id = sessions::create(&db, &config, &ctx, &ada, t0)
        .await
        .unwrap();
    // A request every 50 s: each within the idle minute of the previous one.
    for i in 1..=6 {
        let at = t0 + i * 50 * second;
        assert!(
            sessions::lookup(&db, &config, id.expose(), at)
                .await
                .unwrap()
                .is_some(),
            "request {i} at {} s",
            i * 50
        );
    }
    // Then a minute of silence ends it.
    let quiet = t0 + 6 * 50 * second + 61 * second;
    assert!(sessions::lookup(&db, &config, id.expose(), quiet)
        .await
        .unwrap()
        .is_none());
}

#[actix_web::test]
async fn sessions_end_after_the_idle_timeout_and_at_their_absolute_end() {
    let app = spawn_app().await;
    let ada = add_operator(&app, "ada@example.com", Role::Admin).await;
    let db = db_of(&app);
    let config = auth_server::config::ConsoleConfig::default();
    let ctx = AuditContext::operator(&crate::helpers::audit_key(), &ada.id, &ada.email, None);
    let minute = 60_000_000;
    let idle = 30 * minute;
    let t0 = shared::time::now_micros();

    // Idle: used just before the idle end, it lives on from that use; then unused past it, ends.
    let id = sessions::create(&db, &config, &ctx, &ada, t0)
        .await
        .unwrap();
    let id = id.expose();
    assert!(sessions::lookup(&db, &config, id, t0 + idle - 1)
        .await
        .unwrap()
        .is_some());
    let last = t0 + idle - 1;
    assert!(sessions::lookup(&db, &config, id, last + idle - 1)
        .await
        .unwrap()
        .is_some());
    let last = last + idle - 1;
    assert!(sessions::lookup(&db, &config, id, last + idle)
        .await
        .unwrap()
        .is_none());
    // Ended means deleted: even an earlier time no longer finds it.
    assert!(sessions::lookup(&db, &config, id, t0)
        .await
        .unwrap()
        .is_none());

    // Requests within a minute of the last write do not write last_seen_at again.
    let id = sessions::create(&db, &config, &ctx, &ada, t0)
        .await
        .unwrap();
    let id = id.expose();
    assert!(sessions::lookup(&db, &config, id, t0 + 59_000_000)
        .await
        .unwrap()
        .is_some());
    // Had 59 s been written, t0 + 59 s + idle - 1 would still be alive.
    assert!(sessions::lookup(&db, &config, id, t0 + idle + 1)
        .await
        .unwrap()
        .is_none());

    // Absolute: used every 20 minutes, it still ends 12 hours after sign-in.
    let id = sessions::create(&db, &config, &ctx, &ada, t0)
        .await
        .unwrap();
    let id = id.expose();
    let max = 12 * 60 * minute;
    let mut t = t0;
    while t + 20 * minute < t0 + max {
        t += 20 * minute;
        assert!(
            sessions::lookup(&db, &config, id, t)
                .await
                .unwrap()
                .is_some(),
            "at {t}"
        );
    }
    assert!(sessions::lookup(&db, &config, id, t0 + max)
        .await
        .unwrap()
        .is_none());

    // And the real server agrees: a session idle (by the clock) past CONSOLE_SESSION_IDLE_SECS
    // is refused; here with a server whose idle timeout has already passed for an old session.
    let id = sessions::create(&db, &config, &ctx, &ada, t0 - idle - minute)
        .await
        .unwrap();
    let mut b = Browser::new(&app);
    b.cookies
        .insert("cf_session".into(), id.expose().to_owned());
    assert_eq!(location(&b.get("/console/account").await), "/console/login");
}

// --- TOTP ---------------------------------------------------------------------------------------

fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("{start} in {html}"))
        + start.len();
    &html[from..][..html[from..].find(end).unwrap()]
}

#[actix_web::test]
async fn totp_enrolment_then_sign_in_needs_a_fresh_code() {
    let app = spawn_app().await;
    add_operator(&app, "ada@example.com", Role::Admin).await;
    let mut b = Browser::new(&app);
    let csrf = b.sign_in("ada@example.com", PASSWORD).await;
    let resp = b
        .post(
            "/console/account/totp/begin",
            &[("csrf_token", &csrf), ("current_password", PASSWORD)],
        )
        .await;
    assert_eq!(resp.status(), 303);
    let page = b.get("/console/account").await.text().await.unwrap();
    let key = between(&page, "id=\"totp-key\">", "<").to_owned();
    let uri = between(&page, "id=\"totp-uri\"><a href=\"", "\"").replace("&amp;", "&");
    assert!(
        uri.starts_with("otpauth://totp/CaseForge:ada%40example.com?secret="),
        "{uri}"
    );
    assert!(
        uri.contains(&format!("secret={key}")) && uri.contains("issuer=CaseForge"),
        "{uri}"
    );

    // Not enabled until confirmed: a wrong code confirms nothing, and sign-in needs no code.
    let resp = b
        .post(
            "/console/account/totp/confirm",
            &[("csrf_token", &csrf), ("code", "000000")],
        )
        .await;
    assert_eq!(resp.status(), 400);
    Browser::new(&app)
        .sign_in("ada@example.com", PASSWORD)
        .await;

    let now = shared::time::now_micros();
    let code = operators::totp_code(&key, now).unwrap();
    let resp = b
        .post(
            "/console/account/totp/confirm",
            &[("csrf_token", &csrf), ("code", &code)],
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/console/account?done=totp-on");
    let page = b.get("/console/account").await.text().await.unwrap();
    assert!(!page.contains(&key), "the secret is not shown once enabled");

    // Now a sign-in needs a code; without one, or with the one already used, it fails alike.
    let resp = Browser::new(&app)
        .login("ada@example.com", PASSWORD, "")
        .await;
    assert_eq!(resp.status(), 401);
    assert!(resp.text().await.unwrap().contains(INVALID));
    let resp = Browser::new(&app)
        .login("ada@example.com", PASSWORD, &code)
        .await;
    assert_eq!(
        resp.status(),
        401,
        "the confirming code is not accepted again"
    );
    // The next step's code (within the ±1 step window) works once.
    let next = operators::totp_code(&key, now + 30_000_000).unwrap();
    let resp = Browser::new(&app)
        .login("ada@example.com", "wrong password!!", &next)
        .await;
    assert_eq!(
        resp.status(),
        401,
        "a code does not stand in for the password"
    );
    let mut c = Browser::new(&app);
    let resp = c.login("ada@example.com", PASSWORD, &next).await;
    assert_eq!(resp.status(), 303);
    let resp = Browser::new(&app)
        .login("ada@example.com", PASSWORD, &next)
        .await;
    assert_eq!(resp.status(), 401, "a replayed code is refused");

    // Turning it off needs the current password.
    let csrf = c.account_csrf().await;
    let off = |password: &'static str| {
        vec![
            ("csrf_token", csrf.clone()),
            ("current_password", password.to_owned()),
        ]
    };
    let form = off("not my password!");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        c.post("/console/account/totp/disable", &form)
            .await
            .status(),
        400
    );
    let form = off(PASSWORD);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        c.post("/console/account/totp/disable", &form)
            .await
            .status(),
        303
    );
    Browser::new(&app)
        .sign_in("ada@example.com", PASSWORD)
        .await;
}

#[actix_web::test]
async fn totp_secrets_are_sealed_at_rest() {
    let app = spawn_app().await;
    let ada = add_operator(&app, "ada@example.com", Role::Admin).await;
    let mut b = Browser::new(&app);
    let csrf = b.sign_in("ada@example.com", PASSWORD).await;
    b.post(
        "/console/account/totp/begin",
        &[("csrf_token", &csrf), ("current_password", PASSWORD)],
    )
    .await;
    let page = b.get("/console/account").await.text().await.unwrap();
    let key = between(&page, "id=\"totp-key\">", "<").to_owned();
    let stored = db_of(&app)
        .run(move |c| auth_server::db::operators::OperatorRow::find(c, &ada.id))
        .await
        .unwrap()
        .unwrap()
        .totp_secret
        .unwrap();
    assert!(stored.starts_with("enc1:"), "{stored}");
    assert!(!stored.contains(&key));
}

#[actix_web::test]
async fn an_admin_without_totp_reaches_only_enrolment_when_it_is_required() {
    let app = spawn_app_with(|c| c.console.require_totp_for_admins = true).await;
    add_operator(&app, "ada@example.com", Role::Admin).await;
    add_operator(&app, "dev@example.com", Role::Developer).await;
    let mut admin = Browser::new(&app);
    let resp = admin.login("ada@example.com", PASSWORD, "").await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/console/account");
    // Every page stands on `SignedIn`, which sends such an admin to enrolment (here `/console`;
    // the other pages land with the pages work).
    let resp = admin.get("/console").await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/console/account");
    let page = admin.get("/console/account").await.text().await.unwrap();
    assert!(page.contains("Admins must use two-step sign-in"));
    // Enrolled, the admin reaches the console.
    let csrf = csrf_in(&page);
    admin
        .post(
            "/console/account/totp/begin",
            &[("csrf_token", &csrf), ("current_password", PASSWORD)],
        )
        .await;
    let page = admin.get("/console/account").await.text().await.unwrap();
    let key = between(&page, "id=\"totp-key\">", "<").to_owned();
    let code = operators::totp_code(&key, shared::time::now_micros()).unwrap();
    let resp = admin
        .post(
            "/console/account/totp/confirm",
            &[("csrf_token", &csrf), ("code", &code)],
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        location(&admin.get("/console").await),
        "/console/applications"
    );
    // Developers are not held to it.
    let mut dev = Browser::new(&app);
    dev.sign_in("dev@example.com", PASSWORD).await;
}

// --- setup links --------------------------------------------------------------------------------

#[actix_web::test]
async fn a_setup_link_sets_the_first_password_once() {
    let app = spawn_app().await;
    let db = db_of(&app);
    let now = shared::time::now_micros();
    let created = operators::create(
        &db,
        &AuditContext::cli(&crate::helpers::audit_key()),
        Email::parse("new@example.com").unwrap(),
        Role::Developer,
        None,
        4,
        now,
    )
    .await
    .unwrap();
    let token = created.setup_token.unwrap();
    let link = operators::setup_link(ISSUER, &token);
    assert!(link.starts_with("http://caseforge.test/console/setup?token="));
    // Before setup, no password signs in.
    assert_eq!(
        Browser::new(&app)
            .login("new@example.com", "", "")
            .await
            .status(),
        401
    );

    let mut b = Browser::new(&app);
    let path = format!("/console/setup?token={}", token.expose());
    let resp = b.get(&path).await;
    assert_eq!(resp.status(), 200);
    let csrf = csrf_in(&resp.text().await.unwrap());
    let set = |password: &'static str, confirm: &'static str| {
        vec![
            ("csrf_token", csrf.clone()),
            ("token", token.expose().to_owned()),
            ("password", password.to_owned()),
            ("confirm", confirm.to_owned()),
        ]
    };
    let send = |form: Vec<(&'static str, String)>| form;
    let form = send(set("too short", "too short"));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(b.post("/console/setup", &form).await.status(), 400);
    let form = send(set(PASSWORD, "something else entirely"));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(b.post("/console/setup", &form).await.status(), 400);
    let form = send(set(PASSWORD, PASSWORD));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let resp = b.post("/console/setup", &form).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/console/login?setup=done");
    Browser::new(&app)
        .sign_in("new@example.com", PASSWORD)
        .await;

    // Used: the link is dead, for showing and for setting.
    assert_eq!(b.get(&path).await.status(), 400);
    let form = send(set("another long password", "another long password"));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(b.post("/console/setup", &form).await.status(), 400);
    Browser::new(&app)
        .sign_in("new@example.com", PASSWORD)
        .await;

    // A link expires after 24 hours (time is a parameter).
    let late = operators::create(
        &db,
        &AuditContext::cli(&crate::helpers::audit_key()),
        Email::parse("late@example.com").unwrap(),
        Role::Auditor,
        None,
        4,
        now,
    )
    .await
    .unwrap();
    let late_token = late.setup_token.unwrap();
    let password = Password::parse(PASSWORD).unwrap();
    let ops = auth_server::service::operators::Operators::new(4, Some(crate::helpers::test_kek()));
    let day = 24 * 3600 * 1_000_000;
    assert!(ops
        .complete_setup(
            &db,
            late_token.expose(),
            &password,
            &crate::helpers::audit_key(),
            None,
            now + day
        )
        .await
        .unwrap()
        .is_none());
    assert!(ops
        .complete_setup(
            &db,
            late_token.expose(),
            &password,
            &crate::helpers::audit_key(),
            None,
            now + day - 1
        )
        .await
        .unwrap()
        .is_some());
}

// --- the command line ---------------------------------------------------------------------------

/// Base64 of the helpers' fixed test KEK (`[42; 32]`).
const TEST_KEK_B64: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";

fn cli(db: &TestDb, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_auth-server"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .env("SIGNING_KEY_ENCRYPTION_KEY", TEST_KEK_B64)
        .env("BCRYPT_COST", "4")
        .env("AUTH_ISSUER", ISSUER)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn ok_json(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[actix_web::test]
async fn operator_commands_create_accounts_the_console_accepts() {
    let db = TestDb::create();
    assert!(cli(&db, &["migrate"], "").status.success());
    let created = ok_json(&cli(
        &db,
        &[
            "operator",
            "create",
            "--email",
            "Ops@Example.com",
            "--role",
            "admin",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    ));
    assert_eq!(created["operator"]["email"], "ops@example.com");
    assert_eq!(created["operator"]["role"], "admin");
    assert!(created["setup_link"].is_null());
    let invited = ok_json(&cli(
        &db,
        &[
            "operator",
            "create",
            "--email",
            "dev@example.com",
            "--role",
            "developer",
        ],
        "",
    ));
    let link = invited["setup_link"].as_str().unwrap();
    assert!(
        link.starts_with("http://caseforge.test/console/setup?token="),
        "{link}"
    );

    // Invalid values exit non-zero naming the flag, and create nothing.
    for (args, flag) in [
        (vec!["--email", "x@example.com", "--role", "root"], "--role"),
        (
            vec!["--email", "not-an-email", "--role", "admin"],
            "--email",
        ),
    ] {
        let mut all = vec!["operator", "create"];
        all.extend(args);
        let out = cli(&db, &all, "");
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(flag),
            "{flag}"
        );
    }
    let out = cli(
        &db,
        &[
            "operator",
            "create",
            "--email",
            "y@example.com",
            "--role",
            "admin",
            "--password-stdin",
        ],
        "short\n",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--password-stdin"));
    let dup = cli(
        &db,
        &[
            "operator",
            "create",
            "--email",
            "ops@example.com",
            "--role",
            "auditor",
        ],
        "",
    );
    assert!(!dup.status.success());
    let listed = ok_json(&cli(&db, &["operator", "list"], ""));
    assert_eq!(listed["data"].as_array().unwrap().len(), 2, "{listed}");
    assert!(!listed.to_string().contains("hash"));

    // The only admin cannot be demoted: someone must still be able to manage the console.
    let demote_ops = [
        "operator",
        "set-role",
        "--email",
        "ops@example.com",
        "--role",
        "auditor",
    ];
    let out = cli(&db, &demote_ops, "");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("last active admin"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ok_json(&cli(
        &db,
        &[
            "operator",
            "create",
            "--email",
            "boss@example.com",
            "--role",
            "admin",
        ],
        "",
    ));
    let changed = ok_json(&cli(&db, &demote_ops, ""));
    assert_eq!(changed["role"], "auditor");
    let out = cli(
        &db,
        &[
            "operator",
            "set-role",
            "--email",
            "ops@example.com",
            "--role",
            "boss",
        ],
        "",
    );
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--role"));
    let out = cli(
        &db,
        &["operator", "disable", "--email", "ghost@example.com"],
        "",
    );
    assert!(!out.status.success());

    let app = spawn_on(db, |_| {}).await;
    let mut b = Browser::new(&app);
    b.sign_in("ops@example.com", PASSWORD).await;
    let out = cli(
        &app.db,
        &["operator", "disable", "--email", "ops@example.com"],
        "",
    );
    assert_eq!(ok_json(&out)["disabled"], true);
    assert_eq!(location(&b.get("/console/account").await), "/console/login");
}

#[actix_web::test]
async fn a_password_hashed_at_another_cost_is_rehashed_at_sign_in() {
    let app = spawn_app().await;
    let db = db_of(&app);
    let ada = operators::create(
        &db,
        &AuditContext::cli(&crate::helpers::audit_key()),
        Email::parse("ada@example.com").unwrap(),
        Role::Admin,
        Some(Password::parse(PASSWORD).unwrap()),
        5,
        shared::time::now_micros(),
    )
    .await
    .unwrap()
    .operator;
    let hash_of = |id: String| {
        let db = db.clone();
        async move {
            db.run(move |c| auth_server::db::operators::OperatorRow::find(c, &id))
                .await
                .unwrap()
                .unwrap()
                .password_hash
                .unwrap()
        }
    };
    assert!(hash_of(ada.id.clone()).await.starts_with("$2b$05$"));
    let mut b = Browser::new(&app);
    b.sign_in("ada@example.com", PASSWORD).await;
    // The test server's operator cost is 4.
    assert!(hash_of(ada.id.clone()).await.starts_with("$2b$04$"));
    assert_eq!(
        b.get("/console/account").await.status(),
        200,
        "the session lives on"
    );
    Browser::new(&app)
        .sign_in("ada@example.com", PASSWORD)
        .await;
}

#[test]
fn bad_console_variables_are_each_reported() {
    shared::testing::assert_every_bad_variable_is_reported(
        env!("CARGO_BIN_EXE_auth-server"),
        &["migrate"],
        &[
            ("CONSOLE_SESSION_IDLE_SECS", "0"),
            ("CONSOLE_SESSION_MAX_SECS", "forever"),
            ("CONSOLE_REQUIRE_TOTP_FOR_ADMINS", "maybe"),
        ],
    );
}

#[actix_web::test]
async fn of_two_concurrent_creations_with_one_email_one_is_a_conflict() {
    let app = spawn_app().await;
    let db = db_of(&app);
    let attempt = |db: Db| async move {
        operators::create(
            &db,
            &AuditContext::cli(&crate::helpers::audit_key()),
            Email::parse("twin@example.com").unwrap(),
            Role::Developer,
            None,
            4,
            shared::time::now_micros(),
        )
        .await
    };
    let (a, b) = futures_util::join!(attempt(db.clone()), attempt(db.clone()));
    let outcomes = [a, b];
    assert_eq!(outcomes.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(outcomes.iter().any(|r| matches!(
        r,
        Err(auth_server::error::Error::Conflict(m)) if m.contains("already exists")
    )));
    assert_eq!(operators::list(&db).await.unwrap().len(), 1);
}

#[actix_web::test]
async fn two_admins_removing_each_other_at_once_leave_one_admin() {
    let app = spawn_app().await;
    let db = db_of(&app);
    for trial in 0..8 {
        let a = add_operator(&app, &format!("a{trial}@example.com"), Role::Admin).await;
        let b = add_operator(&app, &format!("b{trial}@example.com"), Role::Admin).await;
        // Only these two are active admins in this trial.
        let others: Vec<_> = operators::list(&db)
            .await
            .unwrap()
            .into_iter()
            .filter(|o| o.role == Role::Admin && !o.disabled && o.id != a.id && o.id != b.id)
            .collect();
        for o in others {
            operators::set_disabled(
                &db,
                &AuditContext::cli(&crate::helpers::audit_key()),
                &o.id,
                true,
                shared::time::now_micros(),
            )
            .await
            .unwrap();
        }
        let (ctx_a, ctx_b) = (
            AuditContext::operator(&crate::helpers::audit_key(), &a.id, &a.email, None),
            AuditContext::operator(&crate::helpers::audit_key(), &b.id, &b.email, None),
        );
        let now = shared::time::now_micros();
        // A disables B while B demotes A.
        let (x, y) = futures_util::join!(
            operators::set_disabled(&db, &ctx_a, &b.id, true, now),
            operators::set_role(&db, &ctx_b, &a.id, Role::Developer, now),
        );
        let refused = [x.is_err(), y.is_err()];
        assert_eq!(
            refused.iter().filter(|r| **r).count(),
            1,
            "trial {trial}: {refused:?}"
        );
        let admins = operators::list(&db)
            .await
            .unwrap()
            .into_iter()
            .filter(|o| o.role == Role::Admin && !o.disabled)
            .count();
        assert_eq!(admins, 1, "trial {trial}");
    }
}

/// `POST /console/account` changing the password, with `current` as the current password.
async fn change_password(b: &mut Browser, csrf: &str, current: &str) -> u16 {
    let new = "a brand new passphrase";
    b.post(
        "/console/account/password",
        &[
            ("csrf_token", csrf),
            ("current_password", current),
            ("new_password", new),
            ("confirm_password", new),
        ],
    )
    .await
    .status()
    .as_u16()
}

#[actix_web::test]
async fn guessing_the_current_password_on_the_account_page_is_throttled() {
    let app = spawn_app().await;
    add_operator(&app, "ada@example.com", Role::Admin).await;
    let mut b = Browser::new(&app);
    let csrf = b.sign_in("ada@example.com", PASSWORD).await;
    for _ in 0..5 {
        assert_eq!(change_password(&mut b, &csrf, "a wrong guess!!").await, 400);
    }
    let checks = metric(&app, CHECKS).await;
    assert_eq!(change_password(&mut b, &csrf, "a wrong guess!!").await, 429);
    // Locked, even the right one is not checked: a stolen session learns nothing.
    assert_eq!(change_password(&mut b, &csrf, PASSWORD).await, 429);
    assert_eq!(metric(&app, CHECKS).await, checks);
}

#[actix_web::test]
async fn each_account_action_has_its_own_route_and_the_old_single_post_is_gone() {
    let app = spawn_app().await;
    add_operator(&app, "ada@example.com", Role::Developer).await;
    let mut b = Browser::new(&app);
    let csrf = b.sign_in("ada@example.com", PASSWORD).await;
    let page = b.get("/console/account").await.text().await.unwrap();
    for route in ["/console/account/password", "/console/account/totp/begin"] {
        assert!(
            page.contains(&format!("action=\"{route}\"")),
            "{route} on the page"
        );
    }
    assert!(!page.contains("name=\"action\""), "no hidden action field");
    // The single POST with a hidden action no longer exists: 405, nothing changed.
    let resp = b
        .post(
            "/console/account",
            &[
                ("csrf_token", csrf.as_str()),
                ("action", "totp_begin"),
                ("current_password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(resp.status(), 405);
    assert!(header(&resp, "content-type").starts_with("text/html"));
    let page = b.get("/console/account").await.text().await.unwrap();
    assert!(!page.contains("totp-key"), "no enrolment was begun");
    // Each route does its one thing; a refusal is the account page with the error box.
    let resp = b
        .post(
            "/console/account/totp/begin",
            &[
                ("csrf_token", csrf.as_str()),
                ("current_password", "wrong password!"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 400);
    let html = resp.text().await.unwrap();
    assert!(html.contains("class=\"error-box\" id=\"error\"") && html.contains("<nav"));
    let resp = b
        .post(
            "/console/account/totp/begin",
            &[
                ("csrf_token", csrf.as_str()),
                ("current_password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/console/account");
    let page = b.get("/console/account").await.text().await.unwrap();
    assert!(page.contains("id=\"totp-key\""), "enrolment begun");
}
