{#-
    Question 3: modelled subscription revenue by genre and month (grain revenue_month x genre).
    Revenue is attributed to genres by share of watch minutes, allocated to the cent so that the
    genres of a month add up exactly to that month's revenue (rule and assumptions:
    int_revenue_allocated_to_genres and the plan_prices seed).
-#}
with

allocated as (
    select * from {{ ref('int_revenue_allocated_to_genres') }}
),

by_genre as (
    select
        revenue_month,
        genre,
        -- one allocated row per user, month and genre: rows are distinct users
        count(*) as paying_user_count,
        sum(attributed_watch_minutes) as attributed_watch_minutes,
        sum(revenue_cents) as revenue_cents
    from allocated
    group by revenue_month, genre
),

final as (
    select
        revenue_month,
        genre,
        paying_user_count,
        cast(attributed_watch_minutes as numeric(18, 4)) as attributed_watch_minutes,
        cast(revenue_cents as {{ dbt.type_bigint() }}) as revenue_cents,
        cast(cast(revenue_cents as {{ dbt.type_numeric() }}) / 100 as numeric(18, 2)) as revenue_usd,
        cast(
            cast(revenue_cents as {{ dbt.type_numeric() }})
            / cast(sum(revenue_cents) over (partition by revenue_month) as {{ dbt.type_numeric() }})
            as numeric(18, 6)
        ) as share_of_month_revenue
    from by_genre
)

select * from final
