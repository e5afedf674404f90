//! Leads: E.164 normalization, duplicate detection, first-touch immutability,
//! timeline, outbox events, list filters/search/pagination and CSV export.

use crm_db::entity::outbox;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::helpers::*;

pub async fn events(app: &TestApp, aggregate_id: &str) -> Vec<outbox::Model> {
    let db = &app.server.as_ref().unwrap().state.db;
    outbox::Entity::find()
        .filter(outbox::Column::AggregateId.eq(aggregate_id))
        .order_by_asc(outbox::Column::Id)
        .all(db)
        .await
        .unwrap()
}

fn types(evs: &[outbox::Model]) -> Vec<&str> {
    evs.iter().map(|e| e.event_type.as_str()).collect()
}

#[tokio::test]
async fn duplicates_are_detected_by_phone_email_and_whatsapp_ids() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    // The tenant's country (AR) is the default region for national numbers.
    let r = ceo
        .post(
            "/api/leads",
            json!({"name": "Ana Pérez", "phone": "011 15-2345-6789", "email": "Ana@Example.com",
                   "wa_id": "5491123456789", "bsuid": "AR.13491208655302741918"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["phone"], "+5491123456789");
    assert_eq!(r.body["email"], "ana@example.com");
    assert_eq!(r.body["status"], "new");
    assert_eq!(r.body["lead_source"], "OTHER");
    assert_eq!(r.body["channel"], "manual");
    assert_eq!(r.body["timezone"], "America/Argentina/Buenos_Aires");
    assert_eq!(r.body["consent"]["state"], "unknown");

    for (body, on) in [
        (
            json!({"name": "Same phone", "phone": "+54 9 11 2345-6789"}),
            "phone",
        ),
        (
            json!({"name": "Same email", "email": "ANA@example.com"}),
            "email",
        ),
        (
            json!({"name": "Same wa", "wa_id": "5491123456789", "phone": ""}),
            "wa_id",
        ),
        (
            json!({"name": "Same bsuid", "bsuid": "AR.13491208655302741918"}),
            "bsuid",
        ),
    ] {
        let r = ceo.post("/api/leads", body).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{on}: {:?}", r.body);
        assert_eq!(r.code(), "duplicate_lead");
        assert_eq!(r.body["error"]["details"]["existing_id"], json!(id), "{on}");
        assert!(
            r.body["error"]["details"]["matched_on"]
                .as_array()
                .unwrap()
                .contains(&json!(on)),
            "{on}: {:?}",
            r.body
        );
    }
    // A contact without phone, identified only by its business-scoped id.
    let r = ceo
        .post("/api/leads", json!({"bsuid": "US.1349000000000001"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["phone"], Value::Null);
    // Bad input is refused with a clear code.
    for (body, code) in [
        (json!({"name": "x", "phone": "12"}), "invalid_phone"),
        (json!({"name": "x", "email": "nope"}), "invalid_email"),
        (json!({"name": "x", "bsuid": "nope"}), "invalid_bsuid"),
        (json!({}), "lead_needs_identity"),
        (
            json!({"name": "x", "timezone": "Mars/Base"}),
            "invalid_timezone",
        ),
    ] {
        let r = ceo.post("/api/leads", body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.code(), code);
    }
    // Only one lead was created for Ana.
    let list = ceo.get("/api/leads?q=ana").await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn first_touch_is_never_overwritten_and_later_touches_append() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    let r = ceo
        .post(
            "/api/leads",
            json!({"name": "Bruno", "phone": "+5491155550001",
                   "attribution": {"meta_lead_id": "lg-1", "meta_form_id": "form-9", "meta_ad_id": "ad-1",
                                   "meta_adset_id": "as-1", "meta_campaign_id": "cmp-1",
                                   "meta_ad_headline": "50% off", "meta_ad_body": "Only today"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["lead_source"], "META_ADS");
    assert_eq!(r.body["channel"], "lead_form");

    // The same person arrives again from a Click-to-WhatsApp ad.
    let r = ceo
        .post(
            "/api/leads?on_duplicate=update",
            json!({"name": "Bruno Díaz", "phone": "011 15-5555-0001", "email": "bruno@example.com", "tags": ["vip"],
                   "attribution": {"ctwa_clid": "clid-2", "meta_ad_id": "ad-2", "meta_campaign_id": "cmp-2",
                                   "meta_ad_headline": "Other ad"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["id"], json!(id));
    assert_eq!(r.body["name"], "Bruno Díaz");
    assert_eq!(r.body["email"], "bruno@example.com");
    assert_eq!(r.body["tags"], json!(["vip"]));
    // First touch kept.
    assert_eq!(r.body["meta_ad_id"], "ad-1");
    assert_eq!(r.body["meta_campaign_id"], "cmp-1");
    assert_eq!(r.body["meta_ad_headline"], "50% off");
    assert_eq!(r.body["channel"], "lead_form");
    assert_eq!(r.body["ctwa_clid"], Value::Null);

    // Another touch through the touches endpoint; a repeated click id is ignored.
    let t = ceo
        .post(
            &format!("/api/leads/{id}/touches"),
            json!({"utm_source": "instagram", "utm_campaign": "spring"}),
        )
        .await;
    assert_eq!(t.status, StatusCode::CREATED, "{:?}", t.body);
    assert_eq!(t.body["lead_source"], "META_ADS");
    assert_eq!(t.body["channel"], "web");
    let again = ceo
        .post(
            &format!("/api/leads/{id}/touches"),
            json!({"ctwa_clid": "clid-2"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body, Value::Null);

    let d = ceo.get(&format!("/api/leads/{id}")).await;
    assert_eq!(d.status, StatusCode::OK);
    let touches = d.body["touches"].as_array().unwrap();
    assert_eq!(touches.len(), 3);
    assert_eq!(touches[0]["is_first"], true);
    assert_eq!(touches[0]["meta_lead_id"], "lg-1");
    assert_eq!(touches[0]["details"]["meta_ad_headline"], "50% off");
    assert_eq!(touches[1]["is_first"], false);
    assert_eq!(touches[1]["ctwa_clid"], "clid-2");
    assert_eq!(touches[1]["channel"], "click_to_whatsapp");
    assert_eq!(touches[2]["details"]["utm_campaign"], "spring");
    assert_eq!(d.body["lead"]["meta_ad_id"], "ad-1");

    // PATCH cannot touch attribution (unknown fields are ignored, the first touch stays).
    let p = ceo
        .patch(
            &format!("/api/leads/{id}"),
            json!({"meta_ad_id": "evil", "lead_source": "ORGANIC"}),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK);
    assert_eq!(p.body["meta_ad_id"], "ad-1");
    assert_eq!(p.body["lead_source"], "META_ADS");

    // Timeline: newest first.
    let tl = ceo.get(&format!("/api/leads/{id}/timeline")).await;
    let kinds: Vec<&str> = tl.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["touch", "updated", "touch", "created"]);

    // Events: created, then the merge as an update with its changes.
    let evs = events(&app, &id).await;
    assert_eq!(types(&evs), vec!["lead_created", "lead_updated"]);
    assert_eq!(evs[0].payload["lead"]["meta_ad_id"], "ad-1");
    assert_eq!(evs[0].payload["lead"]["channel"], "lead_form");
    assert_eq!(evs[1].payload["changes"]["name"]["from"], "Bruno");
    assert_eq!(evs[1].payload["changes"]["name"]["to"], "Bruno Díaz");
    assert_eq!(evs[1].payload["lead"]["email"], "bruno@example.com");
}

#[tokio::test]
async fn status_owner_consent_notes_write_timeline_and_events() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    let seller = add_user(&ceo, "sel@acme.test", "seller").await;
    let r = ceo
        .post(
            "/api/leads",
            json!({"name": "Carla", "email": "carla@example.com"}),
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    let r = ceo
        .patch(
            &format!("/api/leads/{id}"),
            json!({"status": "qualified", "owner_id": seller, "tags": ["B", "a", "a"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["status"], "qualified");
    assert_eq!(r.body["tags"], json!(["a", "b"]));
    let r = ceo
        .post(
            &format!("/api/leads/{id}/consent"),
            json!({"action": "opt_in", "method": "web_form"}),
        )
        .await;
    assert_eq!(r.body["consent"]["state"], "opted_in");
    assert_eq!(r.body["consent"]["opt_in_method"], "web_form");
    let r = ceo
        .post(
            &format!("/api/leads/{id}/consent"),
            json!({"action": "opt_out", "method": "whatsapp_stop"}),
        )
        .await;
    assert_eq!(r.body["consent"]["state"], "opted_out");
    let n = ceo
        .post(
            &format!("/api/leads/{id}/notes"),
            json!({"body": "Called, wants a quote"}),
        )
        .await;
    assert_eq!(n.status, StatusCode::CREATED);
    assert_eq!(n.body["kind"], "note");
    let r = ceo
        .post(&format!("/api/leads/{id}/notes"), json!({"body": "  "}))
        .await;
    assert_eq!(r.code(), "invalid_note");

    let evs = events(&app, &id).await;
    let t = types(&evs);
    assert_eq!(
        t,
        vec![
            "lead_created",
            "lead_status_changed",
            "lead_updated",
            "lead_updated",
            "lead_updated"
        ]
    );
    assert_eq!(evs[1].payload["from"], "new");
    assert_eq!(evs[1].payload["to"], "qualified");
    assert_eq!(evs[1].payload["lead"]["owner_id"], json!(seller));
    assert_eq!(evs[2].payload["changes"]["owner_id"]["to"], json!(seller));

    let tl = ceo
        .get(&format!(
            "/api/leads/{id}/timeline?kind=status_changed,note"
        ))
        .await;
    let kinds: Vec<&str> = tl.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["note", "status_changed"]);
    assert_eq!(
        tl.body["items"][1]["payload"],
        json!({"from": "new", "to": "qualified"})
    );
}

#[tokio::test]
async fn list_filters_search_sorting_pagination_and_export() {
    let app = spawn_app().await;
    let ceo = setup_ceo(&app).await;
    let seller = add_user(&ceo, "s@acme.test", "seller").await;
    let mut ids = vec![];
    for (i, (name, status, tags, attribution)) in [
        (
            "Diego",
            "new",
            vec!["vip"],
            json!({"ctwa_clid": "c1", "meta_ad_id": "ad-7", "meta_campaign_id": "cmp-7"}),
        ),
        (
            "Elena",
            "contacted",
            vec![],
            json!({"utm_source": "google"}),
        ),
        (
            "Fabio",
            "new",
            vec!["vip", "promo"],
            json!({"meta_lead_id": "lg-5", "meta_campaign_id": "cmp-7"}),
        ),
        (
            "Gina",
            "customer",
            vec![],
            json!({"lead_source": "REFERRAL"}),
        ),
        ("Hugo", "new", vec![], json!({})),
    ]
    .into_iter()
    .enumerate()
    {
        let owner = if i % 2 == 0 {
            Some(seller.clone())
        } else {
            None
        };
        let r = ceo
            .post(
                "/api/leads",
                json!({"name": name, "status": status, "tags": tags, "attribution": attribution,
                       "owner_id": owner, "phone": format!("+54911444400{i:02}")}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let names = |r: &Resp| -> Vec<String> {
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(&ceo.get("/api/leads").await),
        vec!["Hugo", "Gina", "Fabio", "Elena", "Diego"]
    );
    assert_eq!(
        names(&ceo.get("/api/leads?status=new").await),
        vec!["Hugo", "Fabio", "Diego"]
    );
    assert_eq!(
        names(&ceo.get("/api/leads?status=new,customer&sort=name").await),
        vec!["Diego", "Fabio", "Gina", "Hugo"]
    );
    assert_eq!(
        names(&ceo.get("/api/leads?source=META_ADS").await),
        vec!["Fabio", "Diego"]
    );
    assert_eq!(
        names(&ceo.get("/api/leads?source=WEBSITE,REFERRAL").await),
        vec!["Gina", "Elena"]
    );
    assert_eq!(
        names(&ceo.get("/api/leads?channel=click_to_whatsapp").await),
        vec!["Diego"]
    );
    assert_eq!(
        names(&ceo.get("/api/leads?campaign_id=cmp-7").await),
        vec!["Fabio", "Diego"]
    );
    assert_eq!(
        names(&ceo.get("/api/leads?ad_id=ad-7").await),
        vec!["Diego"]
    );
    assert_eq!(
        names(&ceo.get("/api/leads?tag=VIP").await),
        vec!["Fabio", "Diego"]
    );
    assert_eq!(
        names(&ceo.get(&format!("/api/leads?owner={seller}")).await),
        vec!["Hugo", "Fabio", "Diego"]
    );
    assert_eq!(
        names(&ceo.get("/api/leads?owner=none").await),
        vec!["Gina", "Elena"]
    );
    assert_eq!(names(&ceo.get("/api/leads?q=eLe").await), vec!["Elena"]);
    assert_eq!(
        names(&ceo.get("/api/leads?q=4444-0003").await),
        vec!["Gina"]
    );
    assert_eq!(
        names(&ceo.get("/api/leads?q=100%25").await),
        Vec::<String>::new()
    );
    // Two-letter needles (below the trigram index) still match; quotes are
    // text, not query syntax.
    assert_eq!(names(&ceo.get("/api/leads?q=ug").await), vec!["Hugo"]);
    assert_eq!(
        names(&ceo.get("/api/leads?q=%22hugo%22").await),
        Vec::<String>::new()
    );
    // The search index follows renames, contact changes and deletes.
    let hugo = ids[4].clone();
    let r = ceo
        .patch(
            &format!("/api/leads/{hugo}"),
            json!({"name": "Hugolino Pérez", "email": "hugo@dominio.test"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        names(&ceo.get("/api/leads?q=lino p%C3%A9r").await),
        vec!["Hugolino Pérez"]
    );
    assert_eq!(
        names(&ceo.get("/api/leads?q=hugo@dom").await),
        vec!["Hugolino Pérez"]
    );
    assert_eq!(
        names(&ceo.get("/api/leads?q=hugo").await),
        vec!["Hugolino Pérez"]
    );
    let r = ceo
        .patch(&format!("/api/leads/{hugo}"), json!({"name": "Hugo"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        names(&ceo.get("/api/leads?q=lino").await),
        Vec::<String>::new()
    );
    assert_eq!(
        names(
            &ceo.get(
                "/api/leads?created_from=2000-01-01T00:00:00Z&created_to=2001-01-01T00:00:00Z"
            )
            .await
        ),
        Vec::<String>::new()
    );
    for bad in [
        "status=open",
        "source=TV",
        "owner=bob",
        "cursor=zzz",
        "sort=price",
    ] {
        let r = ceo.get(&format!("/api/leads?{bad}")).await;
        assert!(
            r.status == StatusCode::UNPROCESSABLE_ENTITY || r.status == StatusCode::BAD_REQUEST,
            "{bad}: {:?}",
            r.body
        );
    }

    // Pagination walks every row exactly once, in each sort order.
    for sort in ["-created_at", "created_at", "name", "-name", "-updated_at"] {
        let mut seen = vec![];
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("/api/leads?limit=2&sort={sort}");
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={c}"));
            }
            let r = ceo.get(&url).await;
            assert_eq!(r.status, StatusCode::OK, "{url}: {:?}", r.body);
            seen.extend(names(&r));
            match r.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            vec!["Diego", "Elena", "Fabio", "Gina", "Hugo"],
            "{sort}"
        );
        if sort == "name" {
            assert_eq!(seen, sorted);
        }
    }

    // Export with the same filters.
    let r = ceo.get("/api/leads/export.csv?tag=vip&sort=name").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = r.body.as_str().unwrap().to_owned();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    assert_eq!(&headers[1], "name");
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[0][1], "Diego");
    assert_eq!(&rows[0][8], "vip");
    assert_eq!(&rows[1][1], "Fabio");
    assert_eq!(&rows[1][8], "promo;vip");

    // Bulk assign and tag.
    let r = ceo
        .post(
            "/api/leads/bulk/assign",
            json!({"ids": [ids[1], ids[3]], "owner_id": seller}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["updated"], 2);
    assert_eq!(
        names(&ceo.get("/api/leads?owner=none").await),
        Vec::<String>::new()
    );
    let r = ceo
        .post(
            "/api/leads/bulk/tag",
            json!({"ids": [ids[0], ids[1]], "add": ["hot"], "remove": ["vip"]}),
        )
        .await;
    assert_eq!(r.body["updated"], 2);
    assert_eq!(names(&ceo.get("/api/leads?tag=vip").await), vec!["Fabio"]);
    assert_eq!(
        names(&ceo.get("/api/leads?tag=hot").await),
        vec!["Elena", "Diego"]
    );
    let r = ceo
        .post(
            "/api/leads/bulk/tag",
            json!({"ids": [ids[0], "01a1ffa3-0000-7000-8000-000000000001"], "add": ["x"]}),
        )
        .await;
    assert_eq!(r.code(), "leads_not_found");
    assert_eq!(
        r.body["error"]["details"]["missing_ids"],
        json!(["01a1ffa3-0000-7000-8000-000000000001"])
    );
    // Nothing changed on the valid id either (all or nothing).
    assert_eq!(
        names(&ceo.get("/api/leads?tag=x").await),
        Vec::<String>::new()
    );

    // Delete.
    let r = ceo.delete(&format!("/api/leads/{}", ids[4])).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        ceo.get(&format!("/api/leads/{}", ids[4])).await.status,
        StatusCode::NOT_FOUND
    );
}
