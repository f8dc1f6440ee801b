{#-
    Users with at least one session per calendar month (grain activity_month), counted from the
    user-month table rather than the log.
-#}
with

user_months as (
    select * from {{ ref('int_user_months_active') }}
),

final as (
    select
        activity_month,
        count(*) as active_users
    from user_months
    group by activity_month
)

select * from final
