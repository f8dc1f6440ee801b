{#-
    Every staged session with its single quarantine reason. Precedence (first match wins):
    duplicate_id (not the first occurrence of the session_id in load order), staging's
    out_of_range, unknown_user_id, unknown_content_id, watch_before_registration,
    duration_above_length. A user or content item that was itself quarantined is unknown here:
    its sessions cannot reach the core's foreign keys.

    Incremental per load (macros/utils/session_validation_plan.sql): when the users and content
    snapshots are the ones the table was validated against and no validated batch was replaced,
    a build validates only the sessions loads newer than the table's, and a new session repeats
    an id when an earlier load holds it (the kept occurrence, found through the session_id
    index) or an earlier line of the new loads does. Otherwise the table is emptied and every
    staged session is validated again - the same rows a first build writes.
    validation_load_id (the newest load the run saw) marks the rows a run wrote, so the core and
    the tests can read just those.
-#}
{%- set plan = session_validation_plan() -%}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        indexes=[{'columns': ['session_id']}, {'columns': ['validation_load_id']}],
        pre_hook=[
            "{{ empty_unless_appending(session_validation_plan()) }}",
            "{{ without_merge_joins() }}",
        ],
        post_hook="{{ refresh_planner_statistics() }}",
    )
}}

{%- set quarantine_rules = [
    {'when': 'occurrence_number > 1', 'reason': 'duplicate_id', 'field': 'session_id',
     'value': 'session_id', 'detail': duplicate_detail('session_id')},
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

{#- An appending build reads only the loads newer than the table's. -#}
{%- set new_loads = 'where load_id > ' ~ plan['after_load_id'] if plan['append'] else '' %}

with

-- The staged view is imported once per use (each CTE is read once, so the planner inlines it
-- instead of materialising the whole log: PostgreSQL materialises a CTE read twice).
staged as (
    select * from {{ ref('stg_streaming__viewing_sessions') }}
    {{ new_loads }}
),

staged_loads as (
    select load_id from {{ ref('stg_streaming__viewing_sessions') }}
    {{ new_loads }}
),

{% if plan['append'] -%}
-- An appending build validates one new load (thousands of rows): they are ranked directly.
-- (Joining them to a repeated-ids aggregate, as below, let the planner - which estimates a
-- brand-new load at one row - re-run the aggregate once per row.)
ranked as (
    select
        *,
        {{ first_occurrence_columns('session_id') }}
    from staged
),

{% else -%}
staged_ids as (
    select session_id from {{ ref('stg_streaming__viewing_sessions') }}
),

staged_occurrences as (
    select
        session_id,
        load_id,
        batch_id,
        source_file,
        source_line
    from {{ ref('stg_streaming__viewing_sessions') }}
),

-- Ids staged more than once: one hash aggregate of the id alone. Only their rows are sorted
-- into load order below, never the whole (wide) log.
repeated_ids as (
    select session_id
    from staged_ids
    group by session_id
    having count(*) > 1
),

repeated as (
    select
        batch_id,
        source_line,
        {{ first_occurrence_columns('session_id') }}
    from staged_occurrences
    where session_id in (select repeated_ids.session_id from repeated_ids)
),

-- An id staged once is its own first occurrence.
ranked as (
    select
        staged.*,
        coalesce(repeated.occurrence_number, 1) as occurrence_number,
        coalesce(repeated.first_source_file, staged.source_file) as first_source_file,
        coalesce(repeated.first_source_line, staged.source_line) as first_source_line
    from staged
    left join repeated
        on staged.batch_id = repeated.batch_id
        and staged.source_line = repeated.source_line
),

{% endif -%}
{% if plan['append'] -%}
-- The kept occurrence of each id among the rows validated before (exactly one per id).
earlier as (
    select
        session_id,
        source_file,
        source_line
    from {{ this }}
    where quarantine_reason is null or quarantine_reason <> 'duplicate_id'
),

sessions as (
    select
        ranked.session_id,
        ranked.user_id,
        ranked.content_id,
        ranked.watch_date,
        ranked.watch_minutes,
        ranked.completion_percentage,
        ranked.device_type,
        ranked.quality_level,
        ranked.quarantine_reason,
        ranked.quarantine_field,
        ranked.quarantine_value,
        ranked.quarantine_detail,
        ranked.load_id,
        ranked.batch_id,
        ranked.source_file,
        ranked.source_line,
        ranked.loaded_at,
        ranked.raw_text,
        case
            when earlier.session_id is null then ranked.occurrence_number
            else ranked.occurrence_number + 1
        end as occurrence_number,
        case
            when earlier.session_id is null then ranked.first_source_file
            else earlier.source_file
        end as first_source_file,
        case
            when earlier.session_id is null then ranked.first_source_line
            else earlier.source_line
        end as first_source_line
    from ranked
    left join earlier
        on ranked.session_id = earlier.session_id
),
{%- else %}
sessions as (
    select * from ranked
),
{%- endif %}

-- The user and content snapshots this run validates against (recorded on every row: the next
-- build appends only while they are unchanged).
snapshots as (
    select
        (select max(load_id) as users_load_id from {{ ref('stg_streaming__users') }}) as users_load_id,
        (select max(load_id) as content_load_id from {{ ref('int_content_validated') }}) as content_load_id,
        (select max(load_id) as validation_load_id from staged_loads) as validation_load_id
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
        snapshots.validation_load_id,
        snapshots.users_load_id,
        snapshots.content_load_id,
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
    cross join snapshots
),

checked as (
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
        load_id,
        batch_id,
        source_file,
        source_line,
        loaded_at,
        raw_text,
        validation_load_id,
        users_load_id,
        content_load_id
    from joined
),

-- raw_text only where the quarantine will show it: re-serialising and storing every valid
-- line cost more than the rest of the row (the CASE leaves it unevaluated for a valid row).
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
        quarantine_reason,
        quarantine_field,
        quarantine_value,
        quarantine_detail,
        load_id,
        batch_id,
        source_file,
        source_line,
        loaded_at,
        case when quarantine_reason is not null then raw_text end as raw_text,
        validation_load_id,
        users_load_id,
        content_load_id
    from checked
)

select * from final
