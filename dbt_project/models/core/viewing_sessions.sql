{#-
    Incremental: a build inserts only the valid sessions whose (session_id, batch_id) is not yet
    in the table (anti-join), among the rows int_viewing_sessions_validated wrote in this run, so re-running without new data changes no row; a session refused
    earlier (say, its user arrived late) comes in once it becomes valid; a corrected re-export of
    a sessions file replaces its sessions (delete+insert on session_id). Sessions whose raw rows
    disappeared stay until `dbt build --full-refresh` (the reconciliation test reports them).
    The post-hooks add the primary key once the first fill is in (one sorted index build, not
    row-by-row maintenance through millions of inserts) and restore the foreign keys that
    dropping a rebuilt parent (users, content) cascades away, since this table itself is not
    rebuilt.
    On Spark (plain Parquet, no row delete) the table is partitioned by batch_id and a build
    overwrites the batch partitions it touches, with the rows it keeps of them; a partition
    whose every session was replaced is dropped (macros/portability/incremental.sql, docs/dbt.md).
-#}
{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        post_hook=[
            "{{ ensure_primary_key(this, ['session_id']) }}",
            "{{ ensure_foreign_key(this, 'user_id', ref('users'), 'user_id') }}",
            "{{ ensure_foreign_key(this, 'content_id', ref('content'), 'content_id') }}",
            "{{ drop_replaced_batches(this, 'session_id') }}",
        ],
        **replace_by_key_within_batches('session_id'),
    )
}}

with

-- On an incremental build only the rows the validation wrote this run (its newest
-- validation_load_id; every row when it re-validated everything): older rows were offered before.
sessions as (
    select * from {{ ref('int_viewing_sessions_validated') }}
    where quarantine_reason is null
    {%- if is_incremental() %}
    and {{ written_this_run() }}
    {%- endif %}
),

{% if is_incremental() %}
existing as (
    select
        session_id,
        batch_id
    from {{ this }}
),
{% endif %}

new_sessions as (
    select sessions.*
    from sessions
    {% if is_incremental() %}
    left join existing
        on sessions.session_id = existing.session_id
        and sessions.batch_id = existing.batch_id
    where existing.session_id is null
    {% endif %}
),

inserted as (
    select
        session_id,
        user_id,
        content_id,
        watch_date,
        device_type,
        quality_level,
        watch_minutes,
        -- The contract's type, stated here too: the incremental schema check compares the
        -- query's types with the table's, and the landing column is unconstrained numeric.
        cast(completion_percentage as numeric(6, 1)) as completion_percentage,
        content_length_minutes,
        batch_id,
        source_file,
        source_line,
        loaded_at
    from new_sessions
),

-- On Spark the run overwrites whole batch partitions: the rows it keeps of them come along.
final as (
    select * from inserted
    {{- rows_kept_in_rewritten_batches(this, 'inserted', 'session_id',
        ['session_id', 'user_id', 'content_id', 'watch_date', 'device_type', 'quality_level',
         'watch_minutes', 'completion_percentage', 'content_length_minutes', 'batch_id',
         'source_file', 'source_line', 'loaded_at']) }}
)

select * from final
