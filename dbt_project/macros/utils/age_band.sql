{#-
    The age band of an age in completed years: 13-17, 18-24, 25-34, 35-44, 45-54, 55-64, 65+.
    Bands are closed intervals; staging admits ages from var('min_user_age') up, so nothing
    falls below the first band.
-#}
{% macro age_band(age_expression) -%}
    case
        when {{ age_expression }} < 18 then '13-17'
        when {{ age_expression }} < 25 then '18-24'
        when {{ age_expression }} < 35 then '25-34'
        when {{ age_expression }} < 45 then '35-44'
        when {{ age_expression }} < 55 then '45-54'
        when {{ age_expression }} < 65 then '55-64'
        else '65+'
    end
{%- endmacro %}
