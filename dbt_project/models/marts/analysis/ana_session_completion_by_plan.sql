{#-
    Frequency table of completion per plan (grain subscription_type x completion_percentage):
    how many sessions of users on each plan reached exactly that completion.
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
        sessions.completion_percentage
    from sessions
    left join users
        on sessions.user_id = users.user_id
),

final as (
    select
        subscription_type,
        completion_percentage,
        count(*) as session_count
    from sessions_with_plan
    group by subscription_type, completion_percentage
)

select * from final
