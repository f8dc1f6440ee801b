{#-
    ISO day of week (1 = Monday ... 7 = Sunday) without a dialect's extract(isodow) / dayofweek,
    whose numbering differs between warehouses: days since Monday 1900-01-01, modulo 7, plus 1.
-#}
{% macro iso_weekday(date_expression) -%}
    (mod({{ dbt.datediff("cast('1900-01-01' as date)", date_expression, 'day') }}, 7) + 1)
{%- endmacro %}


{#- English day name for an ISO weekday number. -#}
{% macro weekday_name(iso_weekday_expression) -%}
    case {{ iso_weekday_expression }}
        when 1 then 'Monday'
        when 2 then 'Tuesday'
        when 3 then 'Wednesday'
        when 4 then 'Thursday'
        when 5 then 'Friday'
        when 6 then 'Saturday'
        when 7 then 'Sunday'
    end
{%- endmacro %}


{#- First day of the month of a date, as a date (dbt.date_trunc returns a timestamp on some warehouses). -#}
{% macro month_start(date_expression) -%}
    cast({{ dbt.date_trunc('month', date_expression) }} as date)
{%- endmacro %}
