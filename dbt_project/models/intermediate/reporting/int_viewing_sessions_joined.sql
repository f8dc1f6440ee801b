{#- Valid sessions with the watching user's attributes and the watched item's (grain session_id). -#}
-- A table, not a view: several models and tests read it, so it is computed once.
{{ config(materialized='table') }}

with

sessions as (
    select * from {{ ref('viewing_sessions') }}
),

users as (
    select * from {{ ref('users') }}
),

content as (
    select * from {{ ref('content') }}
),

final as (
    select
        sessions.session_id,
        sessions.user_id,
        sessions.content_id,
        users.country,
        users.subscription_type,
        users.age,
        content.content_type,
        content.title,
        sessions.watch_date,
        {{ month_start('sessions.watch_date') }} as activity_month,
        sessions.device_type,
        sessions.quality_level,
        sessions.watch_minutes,
        sessions.completion_percentage,
        sessions.content_length_minutes
    from sessions
    inner join users
        on sessions.user_id = users.user_id
    inner join content
        on sessions.content_id = content.content_id
)

select * from final
