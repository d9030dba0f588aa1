//! `my_sessions_over_postgrest`: a user's own sessions over HTTP, straight to PostgREST with the
//! access token in `Authorization` (as a gateway forwards it): `GET /rpc/my_sessions` lists the
//! caller's live sessions and no one else's, with `current` and the user agent and no secret;
//! `POST /rpc/end_my_session` ends another of the caller's sessions (`true`) and answers another
//! user's session like an unknown id (`false`, nothing ended); `POST /rpc/logout
//! {"scope": "others"}` ends every other session and keeps the current one and its cookies; each
//! is in `auth.audit_log`.

use e2e::stack::Stack;
use serde_json::{json, Value};

use super::attacks::{add_user, logged_in, login, rpc, session_live, Session};
use super::common::*;

fn as_browser(s: &Stack, user: &str, password: &str, agent: &str) -> Session {
    logged_in(&login(
        s,
        &s.postgrest_url,
        user,
        password,
        &[("User-Agent", agent)],
    ))
}

fn listed(s: &Stack, who: &Session) -> Vec<Value> {
    let auth = bearer(&who.access);
    let r = s.http.get(
        &pgrst(s, "/rpc/my_sessions"),
        &[("Accept-Profile", "auth"), ("Authorization", &auth)],
    );
    r.expect(200);
    r.json()
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("not a list: {r}"))
}

pub fn my_sessions_over_postgrest(s: &mut Stack) {
    let mut db = s.db();
    const USER: &str = "many-sessions";
    const OTHER: &str = "someone-else";
    const PASSWORD: &str = "many sessions password";
    add_user(&mut db, USER, PASSWORD);
    add_user(&mut db, OTHER, PASSWORD);
    let phone = as_browser(s, USER, PASSWORD, "e2e-phone");
    let laptop = as_browser(s, USER, PASSWORD, "e2e-laptop");
    let tablet = as_browser(s, USER, PASSWORD, "e2e-tablet");
    let other = as_browser(s, OTHER, PASSWORD, "e2e-other");

    // The list: the caller's three sessions, the current one flagged, no secret.
    let rows = listed(s, &phone);
    assert_eq!(rows.len(), 3, "{rows:?}");
    let row = |sid: &str| {
        rows.iter()
            .find(|r| r["id"] == sid)
            .cloned()
            .unwrap_or_else(|| panic!("{sid} not in {rows:?}"))
    };
    assert_eq!(row(&phone.sid)["current"], true);
    assert_eq!(row(&phone.sid)["user_agent"], "e2e-phone");
    assert_eq!(row(&laptop.sid)["current"], false);
    assert_eq!(row(&tablet.sid)["user_agent"], "e2e-tablet");
    assert_eq!(row(&tablet.sid)["method"], "password");
    let body = serde_json::to_string(&rows).unwrap();
    for secret in [
        &phone.access,
        &phone.refresh,
        &laptop.refresh,
        &tablet.refresh,
    ] {
        assert!(!body.contains(secret.as_str()), "a token in the list");
    }
    assert!(rows.iter().all(|r| r["id"] != other.sid.as_str()));

    // Ending another user's session: the answer of an unknown id, nothing ended.
    let auth = bearer(&phone.access);
    let end = |id: &str| {
        rpc(
            s,
            &s.postgrest_url,
            "end_my_session",
            &[("Authorization", &auth)],
            &json!({ "id": id }),
        )
    };
    for id in [other.sid.as_str(), "00000000-0000-0000-0000-000000000000"] {
        let r = end(id);
        r.expect(200);
        assert_eq!(r.json(), json!(false), "{r}");
    }
    assert!(session_live(&mut db, &other.sid));

    // Ending another of mine: true, it ends at once (its token is refused by the hook).
    let r = end(&laptop.sid);
    r.expect(200);
    assert_eq!(r.json(), json!(true), "{r}");
    assert!(!session_live(&mut db, &laptop.sid));
    let laptop_auth = bearer(&laptop.access);
    s.http
        .get(
            &pgrst(s, "/rpc/my_sessions"),
            &[("Accept-Profile", "auth"), ("Authorization", &laptop_auth)],
        )
        .expect(401);
    assert_eq!(listed(s, &phone).len(), 2);
    // Over GET it is refused (405), nothing ended.
    let r = s.http.get(
        &pgrst(s, &format!("/rpc/end_my_session?id={}", tablet.sid)),
        &[("Accept-Profile", "auth"), ("Authorization", &auth)],
    );
    r.expect(405);
    assert!(session_live(&mut db, &tablet.sid));

    // Logout of the others: 204, the current session and its cookies stay.
    let r = rpc(
        s,
        &s.postgrest_url,
        "logout",
        &[("Authorization", &auth)],
        &json!({ "scope": "others" }),
    );
    r.expect(204);
    assert!(
        r.set_cookie("access_token").is_none() && r.set_cookie("refresh_token").is_none(),
        "{r}"
    );
    assert!(!session_live(&mut db, &tablet.sid));
    assert!(session_live(&mut db, &phone.sid));
    assert!(session_live(&mut db, &other.sid));
    let rows = listed(s, &phone);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["id"], phone.sid.as_str());
    assert_eq!(rows[0]["current"], true);

    // The audit log has each, with the user agent of the request.
    assert_eq!(
        int(
            &mut db,
            "SELECT count(*) FROM auth.audit_log WHERE event = 'session_ended' AND session_id = $1::text::uuid AND user_agent IS NOT NULL",
            &[&laptop.sid],
        ),
        1
    );
    assert_eq!(
        int(
            &mut db,
            "SELECT count(*) FROM auth.audit_log WHERE event = 'logout' AND session_id = $1::text::uuid AND detail ->> 'scope' = 'others'",
            &[&tablet.sid],
        ),
        1
    );
    assert_eq!(
        int(
            &mut db,
            "SELECT count(*) FROM auth.audit_log WHERE event = 'login_succeeded' AND username = $1 AND user_agent = 'e2e-phone'",
            &[&USER],
        ),
        1
    );
}
