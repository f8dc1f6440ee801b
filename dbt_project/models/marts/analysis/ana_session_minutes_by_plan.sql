{#-
    Frequency table of watch minutes per plan (grain subscription_type x watch_minutes):
    how many sessions of users on each plan lasted exactly that many minutes.
-#}
with

sessions as (
    select * from {{ ref('viewing_sessions') }}
),

users as (
    select * from {{ ref('users') }}
),

sessions_with_plan as (
    select
        coalesce(users.subscription_type, 'unknown') as subscription_type,
        sessions.watch_minutes
    from sessions
    left join users
        on sessions.user_id = users.user_id
),

final as (
    select
        subscription_type,
        watch_minutes,
        count(*) as session_count
    from sessions_with_plan
    group by subscription_type, watch_minutes
)

select * from final
