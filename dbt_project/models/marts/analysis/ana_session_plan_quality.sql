{#-
    Sessions per plan and quality level (grain subscription_type x quality_level); a missing
    plan or quality level counts as 'unknown'.
-#}
with

sessions as (
    select * from {{ ref('viewing_sessions') }}
),

users as (
    select * from {{ ref('users') }}
),

labelled as (
    select
        coalesce(users.subscription_type, 'unknown') as subscription_type,
        coalesce(sessions.quality_level, 'unknown') as quality_level
    from sessions
    left join users
        on sessions.user_id = users.user_id
),

final as (
    select
        subscription_type,
        quality_level,
        count(*) as session_count
    from labelled
    group by subscription_type, quality_level
)

select * from final
