{#- Session-log engagement of every valid item, watched or not (grain content_id). -#}
-- A table, not a view: two marts read it, and it scans the whole session log.
{{ config(materialized='table') }}

with

content as (
    select * from {{ ref('content') }}
),

sessions as (
    select * from {{ ref('viewing_sessions') }}
),

-- Two hash aggregations instead of count(distinct user_id), which sorts the whole log:
-- first per item and viewer, then per item (a viewer is one row of the first step).
content_viewers as (
    select
        content_id,
        user_id,
        count(*) as session_count,
        sum(watch_minutes) as total_watch_minutes,
        sum(cast(completion_percentage as {{ dbt.type_numeric() }})) as sum_completion_percentage
    from sessions
    group by content_id, user_id
),

engagement as (
    select
        content_id,
        cast(sum(session_count) as {{ dbt.type_bigint() }}) as session_count,
        count(*) as viewer_count,
        cast(sum(total_watch_minutes) as {{ dbt.type_bigint() }}) as total_watch_minutes,
        -- The sum cast back to numeric(28, 6): Spark then keeps 10 decimals of the quotient, not 6.
        cast(sum(sum_completion_percentage) as {{ dbt.type_numeric() }})
        / cast(sum(session_count) as {{ dbt.type_numeric() }}) as mean_completion_percentage
    from content_viewers
    group by content_id
),

final as (
    select
        content.content_id,
        content.content_type,
        content.title,
        content.rating,
        content.views,
        content.production_budget,
        coalesce(engagement.session_count, 0) as session_count,
        coalesce(engagement.viewer_count, 0) as viewer_count,
        coalesce(engagement.total_watch_minutes, 0) as total_watch_minutes,
        engagement.mean_completion_percentage
    from content
    left join engagement
        on content.content_id = engagement.content_id
)

select * from final
