{#-
    Financial dashboard, revenue side: modelled subscription revenue by month, plan, country and
    genre (grain revenue_month x subscription_type x country x genre). Genre shares are
    allocated to the cent (int_revenue_allocated_to_genres), so any roll-up of this table, over
    genres included, adds up to the total revenue exactly.
-#}
with

allocated as (
    select * from {{ ref('int_revenue_allocated_to_genres') }}
),

final as (
    select
        revenue_month,
        subscription_type,
        country,
        genre,
        -- allocated has one row per user, month and genre, and a user has one plan and one
        -- country: counting rows counts distinct users, without a distinct sort of the whole table.
        count(*) as paying_user_count,
        cast(sum(revenue_cents) as {{ dbt.type_bigint() }}) as revenue_cents,
        cast(cast(sum(revenue_cents) as {{ dbt.type_numeric() }}) / 100 as numeric(18, 2)) as revenue_usd
    from allocated
    group by revenue_month, subscription_type, country, genre
)

select * from final
