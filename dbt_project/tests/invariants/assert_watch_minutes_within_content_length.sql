{#-
    Invariant: a session never watches more than the movie or episode lasts, checked against the
    content table itself (not only the length copied onto the session).
-#}
with

sessions as (
    select * from {{ ref('viewing_sessions') }}
),

content as (
    select * from {{ ref('content') }}
)

select
    sessions.session_id,
    sessions.watch_minutes,
    content.content_length_minutes
from sessions
inner join content
    on sessions.content_id = content.content_id
where sessions.watch_minutes > content.content_length_minutes
    or sessions.content_length_minutes <> content.content_length_minutes
