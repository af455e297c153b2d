-- TPC-H Q6 for the SQLite oracle (DECIMAL as value * 100: discount 0.05..0.07 is 5..7,
-- quantity 24 is 2400; revenue has scale 4).
select
	dec(sum(l_extendedprice * l_discount), 4) as revenue
from
	lineitem
where
	l_shipdate >= '1994-01-01'
	and l_shipdate < date('1994-01-01', '+1 year')
	and l_discount between 6 - 1 and 6 + 1
	and l_quantity < 2400;
