{#-
    Every staged session with its single quarantine reason. Precedence (first match wins):
    duplicate_id and out_of_range (from staging), unknown_user_id, unknown_content_id,
    watch_before_registration, duration_above_length. A user or content item that was itself
    quarantined is unknown here: its sessions cannot reach the core's foreign keys.
-#}
-- A table, not a view: several models and tests read it, so it is computed once.
{{ config(materialized='table') }}

{%- set quarantine_rules = [
    {'inherit': 'staged_quarantine'},
    {'when': 'matched_user_id is null or user_quarantine_reason is not null',
     'reason': 'unknown_user_id', 'field': 'user_id', 'value': 'user_id',
     'detail': "case when matched_user_id is null then 'is not in users' else "
               ~ dbt.concat(["'names a user quarantined for '", "user_quarantine_reason"]) ~ " end"},
    {'when': 'matched_content_id is null or content_quarantine_reason is not null',
     'reason': 'unknown_content_id', 'field': 'content_id', 'value': 'content_id',
     'detail': "case when matched_content_id is null then 'is not in content' else "
               ~ dbt.concat(["'names content quarantined for '", "content_quarantine_reason"]) ~ " end"},
    {'when': 'watch_date < registration_date', 'reason': 'watch_before_registration',
     'field': 'watch_date', 'value': 'watch_date',
     'detail': dbt.concat(["'is before the user''s registration_date '",
                           "cast(registration_date as " ~ dbt.type_string() ~ ")"])},
    {'when': 'watch_minutes > content_length_minutes', 'reason': 'duration_above_length',
     'field': 'watch_duration_minutes', 'value': 'watch_minutes',
     'detail': dbt.concat(["'exceeds the content length of '",
                           "cast(content_length_minutes as " ~ dbt.type_string() ~ ")", "' minutes'"])},
] -%}

with

sessions as (
    select * from {{ ref('stg_streaming__viewing_sessions') }}
),

-- The first occurrence of each id (never a duplicate_id), valid or not: a session that names a
-- refused user or item is told apart from one naming an id that does not exist.
users as (
    select * from {{ ref('stg_streaming__users') }}
    where quarantine_reason is null or quarantine_reason <> 'duplicate_id'
),

content as (
    select * from {{ ref('int_content_validated') }}
    where quarantine_reason is null or quarantine_reason <> 'duplicate_id'
),

joined as (
    select
        sessions.*,
        sessions.quarantine_reason as staged_quarantine_reason,
        sessions.quarantine_field as staged_quarantine_field,
        sessions.quarantine_value as staged_quarantine_value,
        sessions.quarantine_detail as staged_quarantine_detail,
        users.user_id as matched_user_id,
        users.quarantine_reason as user_quarantine_reason,
        users.registration_date,
        content.content_id as matched_content_id,
        content.quarantine_reason as content_quarantine_reason,
        content.content_length_minutes
    from sessions
    left join users
        on sessions.user_id = users.user_id
    left join content
        on sessions.content_id = content.content_id
),

final as (
    select
        session_id,
        user_id,
        content_id,
        watch_date,
        watch_minutes,
        completion_percentage,
        device_type,
        quality_level,
        content_length_minutes,
        {{ quarantine_columns(quarantine_rules) }},
        batch_id,
        source_file,
        source_line,
        loaded_at,
        raw_text
    from joined
)

select * from final
