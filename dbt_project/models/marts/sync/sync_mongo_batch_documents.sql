{#-
    The MongoDB documents each session batch touched when it arrived (grain batch_id x
    collection_name x document_id): the users and the titles of its sessions. An incremental
    publish rewrites the documents of the batches it has not published yet, and only those.
-#}
-- Incremental by batch: a build adds the batches the table does not hold yet (delete+insert on
-- batch_id; insert_overwrite of batch partitions on dbt-spark), one pass over the new
-- sessions. A batch's rows are written once: a session that joins an older batch later (its
-- user or title arrived late) comes with a users or content batch, and a replaced session
-- changes its batch's row count; either makes the publish rewrite every document
-- (sync_mongo_batches), so this table need not follow them.
{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        **replace_by_key('batch_id'),
    )
}}

with

sessions as (
    select * from {{ ref('viewing_sessions') }}
    {%- if is_incremental() %}
    where batch_id not in (select batch_id from {{ this }})
    {%- endif %}
),

batch_users as (
    select
        'user_analytics' as collection_name,
        user_id as document_id,
        batch_id
    from sessions
    group by
        user_id,
        batch_id
),

batch_titles as (
    select
        'content_analytics' as collection_name,
        content_id as document_id,
        batch_id
    from sessions
    group by
        content_id,
        batch_id
),

final as (
    select * from batch_users
    union all
    select * from batch_titles
)

select * from final
