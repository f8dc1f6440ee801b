with

users as (
    select * from {{ ref('stg_streaming__users') }}
    where quarantine_reason is null
),

final as (
    select
        user_id,
        country,
        subscription_type,
        age,
        registration_date,
        cast(lifetime_watch_hours as numeric(12, 1)) as lifetime_watch_hours,
        batch_id,
        source_file,
        source_line,
        loaded_at
    from users
)

select * from final
