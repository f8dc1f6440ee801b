{#-
    User analytics: demographics against behaviour (grain country x subscription_type x
    age_band). Every valid user counts in user_count; behaviour columns come from the session
    log; mean_lifetime_watch_hours is the account system's own lifetime figure.
-#}
with

users as (
    select * from {{ ref('users') }}
),

-- The user x device x quality aggregate of the log (already built for the user documents),
-- not the log itself: the same sums, from ~a quarter of the rows.
device_quality as (
    select * from {{ ref('int_user_sessions_by_device_quality') }}
),

user_behaviour as (
    select
        user_id,
        cast(sum(session_count) as {{ dbt.type_bigint() }}) as session_count,
        cast(sum(total_watch_minutes) as {{ dbt.type_bigint() }}) as total_watch_minutes,
        sum(sum_completion_percentage) as sum_completion_percentage,
        cast(
            sum(case when quality_level = '4K' then session_count else 0 end) as {{ dbt.type_bigint() }}
        ) as sessions_4k
    from device_quality
    group by user_id
),

banded as (
    select
        users.user_id,
        users.country,
        users.subscription_type,
        {{ age_band('users.age') }} as age_band,
        users.lifetime_watch_hours,
        user_behaviour.session_count,
        user_behaviour.total_watch_minutes,
        user_behaviour.sum_completion_percentage,
        user_behaviour.sessions_4k
    from users
    left join user_behaviour
        on users.user_id = user_behaviour.user_id
),

final as (
    select
        country,
        subscription_type,
        age_band,
        count(*) as user_count,
        count(session_count) as active_user_count,
        cast(coalesce(sum(session_count), 0) as {{ dbt.type_bigint() }}) as session_count,
        cast(
            cast(coalesce(sum(total_watch_minutes), 0) as {{ dbt.type_numeric() }}) / 60 as numeric(18, 4)
        ) as watch_hours,
        cast(
            cast(sum(session_count) as {{ dbt.type_numeric() }})
            / cast(nullif(count(session_count), 0) as {{ dbt.type_numeric() }}) as numeric(18, 6)
        ) as sessions_per_active_user,
        cast(
            cast(sum(total_watch_minutes) as {{ dbt.type_numeric() }}) / 60
            / cast(nullif(count(session_count), 0) as {{ dbt.type_numeric() }}) as numeric(18, 4)
        ) as watch_hours_per_active_user,
        cast(
            sum(sum_completion_percentage)
            / cast(nullif(sum(session_count), 0) as {{ dbt.type_numeric() }}) as numeric(18, 6)
        ) as mean_completion_percentage,
        cast(
            cast(sum(sessions_4k) as {{ dbt.type_numeric() }})
            / cast(nullif(sum(session_count), 0) as {{ dbt.type_numeric() }}) as numeric(18, 6)
        ) as share_of_sessions_4k,
        cast(avg(lifetime_watch_hours) as numeric(18, 4)) as mean_lifetime_watch_hours
    from banded
    group by country, subscription_type, age_band
)

select * from final
