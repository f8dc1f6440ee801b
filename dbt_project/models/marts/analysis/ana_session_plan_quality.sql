{#-
    Sessions per plan and quality level (grain subscription_type x quality_level); a missing
    plan or quality level counts as 'unknown'.
-#}
with

-- The user x device x quality aggregate of the log, not the log itself: the same counts.
device_quality as (
    select * from {{ ref('int_user_sessions_by_device_quality') }}
),

users as (
    select * from {{ ref('users') }}
),

labelled as (
    select
        coalesce(users.subscription_type, 'unknown') as subscription_type,
        coalesce(device_quality.quality_level, 'unknown') as quality_level,
        device_quality.session_count
    from device_quality
    left join users
        on device_quality.user_id = users.user_id
),

final as (
    select
        subscription_type,
        quality_level,
        cast(sum(session_count) as {{ dbt.type_bigint() }}) as session_count
    from labelled
    group by subscription_type, quality_level
)

select * from final
