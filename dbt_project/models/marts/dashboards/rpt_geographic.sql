{#-
    Geographic comparison, one row per country (grain country): audience, engagement, plan mix
    and modelled revenue side by side.
-#}
with

users as (
    select * from {{ ref('users') }}
),

-- One row per user and active month (a user has one country): far fewer rows than the log.
user_months as (
    select * from {{ ref('int_user_months_active') }}
),

allocated as (
    select * from {{ ref('int_revenue_allocated_to_genres') }}
),

audience as (
    select
        country,
        count(*) as user_count,
        sum(case when subscription_type = 'Premium' then 1 else 0 end) as premium_user_count
    from users
    group by country
),

engagement as (
    select
        country,
        sum(session_count) as session_count,
        count(distinct user_id) as active_user_count,
        sum(total_watch_minutes) as total_watch_minutes,
        sum(sum_completion_percentage)
        / cast(sum(session_count) as {{ dbt.type_numeric() }}) as mean_completion_percentage
    from user_months
    group by country
),

revenue as (
    select
        country,
        sum(revenue_cents) as revenue_cents
    from allocated
    group by country
),

final as (
    select
        audience.country,
        audience.user_count,
        coalesce(engagement.active_user_count, 0) as active_user_count,
        cast(
            cast(audience.premium_user_count as {{ dbt.type_numeric() }})
            / cast(audience.user_count as {{ dbt.type_numeric() }}) as numeric(18, 6)
        ) as premium_share,
        cast(coalesce(engagement.session_count, 0) as {{ dbt.type_bigint() }}) as session_count,
        cast(
            cast(coalesce(engagement.total_watch_minutes, 0) as {{ dbt.type_numeric() }}) / 60 as numeric(18, 4)
        ) as watch_hours,
        cast(engagement.mean_completion_percentage as numeric(18, 6)) as mean_completion_percentage,
        cast(
            cast(coalesce(revenue.revenue_cents, 0) as {{ dbt.type_numeric() }}) / 100 as numeric(18, 2)
        ) as revenue_usd,
        cast(
            cast(revenue.revenue_cents as {{ dbt.type_numeric() }}) / 100
            / cast(nullif(engagement.active_user_count, 0) as {{ dbt.type_numeric() }})
            as numeric(18, 4)
        ) as revenue_per_active_user_usd
    from audience
    left join engagement
        on audience.country = engagement.country
    left join revenue
        on audience.country = revenue.country
)

select * from final
