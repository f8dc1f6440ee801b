{#-
    Who watches how much, per month, for the User dashboard (grain activity_month x country x
    subscription_type x age_band x tenure_band). Country, plan, age and tenure are attributes
    of the user in a given month, so each user-month falls in exactly one row: active users add
    up over the rows of a month (to the month's distinct users) and over a month range (to
    user-months). Tenure is whole calendar months from the registration month to the activity
    month, in six-month bands: how long the user had been a subscriber when they watched.
-#}
with

user_months as (
    select * from {{ ref('int_user_months_active') }}
),

users as (
    select * from {{ ref('users') }}
),

tenured as (
    select
        user_months.activity_month,
        user_months.country,
        user_months.subscription_type,
        {{ age_band('users.age') }} as age_band,
        {{ dbt.datediff(
            month_start('users.registration_date'), 'user_months.activity_month', 'month'
        ) }} as tenure_months,
        user_months.session_count,
        user_months.total_watch_minutes,
        user_months.sum_completion_percentage
    from user_months
    inner join users
        on user_months.user_id = users.user_id
),

banded as (
    select
        activity_month,
        country,
        subscription_type,
        age_band,
        case
            when tenure_months < 6 then '0-5 months'
            when tenure_months < 12 then '6-11 months'
            when tenure_months < 18 then '12-17 months'
            when tenure_months < 24 then '18-23 months'
            when tenure_months < 30 then '24-29 months'
            when tenure_months < 36 then '30-35 months'
            else '36+ months'
        end as tenure_band,
        session_count,
        total_watch_minutes,
        sum_completion_percentage
    from tenured
),

final as (
    select
        activity_month,
        country,
        subscription_type,
        age_band,
        tenure_band,
        cast(count(*) as {{ dbt.type_bigint() }}) as active_user_count,
        cast(sum(session_count) as {{ dbt.type_bigint() }}) as session_count,
        cast(sum(total_watch_minutes) as {{ dbt.type_bigint() }}) as total_watch_minutes,
        cast(sum(sum_completion_percentage) as {{ dbt.type_numeric() }}) as sum_completion_percentage
    from banded
    group by activity_month, country, subscription_type, age_band, tenure_band
)

select * from final
