// @generated automatically by Diesel CLI.

diesel::table! {
    alerts (id) {
        id -> Text,
        environment -> Text,
        subject_id -> Text,
        transaction_id -> Nullable<Text>,
        alert_type -> Text,
        severity -> Text,
        status -> Text,
        description -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        name -> Text,
        description -> Text,
        environment -> Text,
        scopes -> Text,
        tier -> Text,
        key_digest -> Text,
        masked_token -> Text,
        expires_at -> Nullable<BigInt>,
        last_used_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        owner_id -> Nullable<Text>,
    }
}

diesel::table! {
    applications (client_id) {
        client_id -> Text,
        name -> Text,
        description -> Text,
        scopes -> Text,
        environment -> Text,
        tier -> Text,
        secret_hash -> Text,
        previous_secret_hash -> Nullable<Text>,
        previous_secret_expires_at -> Nullable<BigInt>,
        disabled -> Bool,
        deleted_at -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        tokens_not_before -> Nullable<BigInt>,
        previous_secret_until_used -> Bool,
        introspection -> Bool,
        owner_id -> Nullable<Text>,
        last_token_at -> Nullable<BigInt>,
        disabled_by_admin -> Bool,
        token_endpoint_auth_method -> Text,
        jwks -> Nullable<Text>,
        dpop_bound_access_tokens -> Bool,
    }
}

diesel::table! {
    audit_events (seq) {
        seq -> BigInt,
        at -> BigInt,
        actor_type -> Text,
        actor_id -> Text,
        actor_label -> Text,
        action -> Text,
        target -> Text,
        source -> Nullable<Text>,
        outcome -> Text,
        fields -> Text,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    case_events (id) {
        id -> Text,
        case_id -> Text,
        environment -> Text,
        at -> BigInt,
        actor -> Text,
        action -> Text,
        changes -> Text,
    }
}

diesel::table! {
    case_reference_counters (environment, year) {
        environment -> Text,
        year -> Integer,
        last_value -> BigInt,
    }
}

diesel::table! {
    cases (id) {
        id -> Text,
        environment -> Text,
        reference -> Text,
        title -> Text,
        description -> Text,
        status -> Text,
        priority -> Text,
        assignee -> Nullable<Text>,
        subject_ids -> Text,
        resolution -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        closed_at -> Nullable<BigInt>,
        version -> BigInt,
    }
}

diesel::table! {
    console_reveals (session_digest, target) {
        session_digest -> Text,
        target -> Text,
        sealed -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    credential_changes (id) {
        id -> BigInt,
        kind -> Text,
        subject -> Text,
        at -> BigInt,
    }
}

diesel::table! {
    idempotency_keys (credential_id, idempotency_key) {
        credential_id -> Text,
        idempotency_key -> Text,
        request_hash -> Text,
        response_status -> Integer,
        response_body -> Text,
        response_etag -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    operator_sessions (id_digest) {
        id_digest -> Text,
        operator_id -> Text,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        expires_at -> BigInt,
        source -> Nullable<Text>,
    }
}

diesel::table! {
    operators (id) {
        id -> Text,
        email -> Text,
        role -> Text,
        password_hash -> Nullable<Text>,
        setup_digest -> Nullable<Text>,
        setup_expires_at -> Nullable<BigInt>,
        totp_secret -> Nullable<Text>,
        totp_enabled -> Bool,
        totp_last_step -> Nullable<BigInt>,
        disabled -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    revoked_tokens (jti) {
        jti -> Text,
        client_id -> Text,
        expires_at -> BigInt,
        revoked_at -> BigInt,
    }
}

diesel::table! {
    sars (id) {
        id -> Text,
        environment -> Text,
        case_id -> Text,
        status -> Text,
        narrative -> Text,
        subject_ids -> Text,
        amount -> Text,
        currency -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        submitted_at -> Nullable<BigInt>,
        version -> BigInt,
    }
}

diesel::table! {
    seen_jtis (key) {
        key -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        algorithm -> Text,
        private_key -> Text,
        public_key -> Text,
        created_at -> BigInt,
        retired_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    subjects (id) {
        id -> Text,
        environment -> Text,
        subject_type -> Text,
        name -> Text,
        country -> Nullable<Text>,
        date_of_birth -> Nullable<Text>,
        risk_score -> Integer,
        risk_level -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        version -> BigInt,
    }
}

diesel::table! {
    transactions (id) {
        id -> Text,
        environment -> Text,
        subject_id -> Text,
        amount -> Text,
        currency -> Text,
        direction -> Text,
        counterparty -> Text,
        description -> Text,
        occurred_at -> BigInt,
    }
}

diesel::table! {
    watchlist_entries (id) {
        id -> Text,
        environment -> Text,
        name -> Text,
        aliases -> Text,
        entry_type -> Text,
        country -> Nullable<Text>,
        date_of_birth -> Nullable<Text>,
        list_source -> Text,
        reason -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        normalized_names -> Text,
        index_version -> Integer,
        version -> BigInt,
    }
}

diesel::table! {
    watchlist_terms (environment, term, entry_id) {
        environment -> Text,
        term -> Text,
        entry_id -> Text,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        environment -> Text,
        endpoint_id -> Text,
        event_id -> Text,
        event_type -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Nullable<BigInt>,
        lease_until -> Nullable<BigInt>,
        last_attempt_at -> Nullable<BigInt>,
        last_response_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        last_duration_ms -> Nullable<BigInt>,
        response_excerpt -> Nullable<Text>,
        attempt_log -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        environment -> Text,
        url -> Text,
        description -> Text,
        events -> Text,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        secret_sealed -> Text,
        previous_secret_sealed -> Nullable<Text>,
        previous_secret_expires_at -> Nullable<BigInt>,
        failing_since -> Nullable<BigInt>,
        last_success_at -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        version -> BigInt,
        owner_id -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_events (id) {
        id -> Text,
        environment -> Text,
        event_type -> Text,
        payload -> Text,
        created_at -> BigInt,
        dispatched_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(case_events -> cases (case_id));
diesel::joinable!(console_reveals -> operator_sessions (session_digest));
diesel::joinable!(operator_sessions -> operators (operator_id));
diesel::joinable!(sars -> cases (case_id));
diesel::joinable!(watchlist_terms -> watchlist_entries (entry_id));

diesel::allow_tables_to_appear_in_same_query!(
    alerts,
    api_keys,
    applications,
    audit_events,
    case_events,
    case_reference_counters,
    cases,
    console_reveals,
    credential_changes,
    idempotency_keys,
    operator_sessions,
    operators,
    revoked_tokens,
    sars,
    seen_jtis,
    signing_keys,
    subjects,
    transactions,
    watchlist_entries,
    watchlist_terms,
    webhook_deliveries,
    webhook_endpoints,
    webhook_events,
);
