{#-
    Every user's profile and behaviour over the whole log (grain user_id). A user without
    sessions has counts 0 and no means; tenure_days counts from registration to the log's last day.
-#}
with

users as (
    select * from {{ ref('users') }}
),

sessions as (
    select * from {{ ref('viewing_sessions') }}
),

content as (
    select * from {{ ref('content') }}
),

minutes_by_day as (
    select * from {{ ref('ana_session_minutes_by_day') }}
),

log_end as (
    select max(watch_date) as last_watch_date
    from minutes_by_day
),

behaviour as (
    select
        sessions.user_id,
        count(*) as session_count,
        sum(sessions.watch_minutes) as watch_minutes,
        -- Averages of decimals over numeric(28, 6): Spark's avg adds only 4 decimals to its input's.
        avg(cast(sessions.completion_percentage as {{ dbt.type_numeric() }})) as mean_completion,
        avg(sessions.watch_minutes) as minutes_per_session,
        avg(
            cast(case when sessions.quality_level = '4K' then 1.0 else 0.0 end as {{ dbt.type_numeric() }})
        ) as share_4k,
        avg(
            cast(case when sessions.device_type = 'Mobile' then 1.0 else 0.0 end as {{ dbt.type_numeric() }})
        ) as share_mobile,
        avg(
            cast(case when content.content_type = 'series' then 1.0 else 0.0 end as {{ dbt.type_numeric() }})
        ) as share_series
    from sessions
    left join content
        on sessions.content_id = content.content_id
    group by sessions.user_id
),

final as (
    select
        users.user_id,
        users.age,
        users.country,
        users.subscription_type,
        users.registration_date,
        cast(users.lifetime_watch_hours as {{ dbt.type_float() }}) as lifetime_watch_hours,
        cast(coalesce(behaviour.session_count, 0) as {{ dbt.type_bigint() }}) as session_count,
        cast(coalesce(behaviour.watch_minutes, 0) as {{ dbt.type_bigint() }}) as watch_minutes,
        cast(behaviour.mean_completion as {{ dbt.type_float() }}) as mean_completion,
        cast(behaviour.minutes_per_session as {{ dbt.type_float() }}) as minutes_per_session,
        cast(behaviour.share_4k as {{ dbt.type_float() }}) as share_4k,
        cast(behaviour.share_mobile as {{ dbt.type_float() }}) as share_mobile,
        cast(behaviour.share_series as {{ dbt.type_float() }}) as share_series,
        cast(
            {{ dbt.datediff('users.registration_date', 'log_end.last_watch_date', 'day') }}
            as {{ dbt.type_int() }}
        ) as tenure_days
    from users
    cross join log_end
    left join behaviour
        on users.user_id = behaviour.user_id
)

select * from final
