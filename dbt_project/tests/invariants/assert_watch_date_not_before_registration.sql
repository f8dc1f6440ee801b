{#- Invariant: nobody watches before their account exists. Fails with the offending sessions. -#}
with

sessions as (
    select * from {{ ref('viewing_sessions') }}
),

users as (
    select * from {{ ref('users') }}
)

select
    sessions.session_id,
    sessions.watch_date,
    users.registration_date
from sessions
inner join users
    on sessions.user_id = users.user_id
where sessions.watch_date < users.registration_date
