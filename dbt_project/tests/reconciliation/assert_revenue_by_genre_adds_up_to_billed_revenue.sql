{#-
    No genre fan-out: for every month, the revenue attributed to genres adds up, to the cent, to
    what the active users were billed (one plan price per active user-month), computed here
    without genres at all.
-#}
with

user_months as (
    select * from {{ ref('int_user_months_active') }}
),

plan_prices as (
    select * from {{ ref('plan_prices') }}
),

by_genre as (
    select * from {{ ref('rpt_revenue_by_genre') }}
),

billed as (
    select
        user_months.activity_month as revenue_month,
        sum(cast(round(plan_prices.monthly_price_usd * 100, 0) as {{ dbt.type_bigint() }})) as billed_cents
    from user_months
    inner join plan_prices
        on user_months.subscription_type = plan_prices.subscription_type
    group by user_months.activity_month
),

attributed as (
    select
        revenue_month,
        sum(revenue_cents) as attributed_cents
    from by_genre
    group by revenue_month
)

select
    coalesce(billed.revenue_month, attributed.revenue_month) as revenue_month,
    billed.billed_cents,
    attributed.attributed_cents
from billed
full outer join attributed
    on billed.revenue_month = attributed.revenue_month
where billed.billed_cents is null
    or attributed.attributed_cents is null
    or billed.billed_cents <> attributed.attributed_cents
