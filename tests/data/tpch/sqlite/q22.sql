-- TPC-H Q22 for the SQLite oracle (DECIMAL as value * 100). "c_acctbal > avg(...)" is
-- compared exactly as "c_acctbal * count > sum".
select
	cntrycode,
	count(*) as numcust,
	dec(sum(c_acctbal), 2) as totacctbal
from
	(
		select
			substr(c_phone, 1, 2) as cntrycode,
			c_acctbal
		from
			customer
		where
			substr(c_phone, 1, 2) in
				('13', '31', '23', '29', '30', '18', '17')
			and c_acctbal * (
				select
					count(*)
				from
					customer
				where
					c_acctbal > 0
					and substr(c_phone, 1, 2) in
						('13', '31', '23', '29', '30', '18', '17')
			) > (
				select
					sum(c_acctbal)
				from
					customer
				where
					c_acctbal > 0
					and substr(c_phone, 1, 2) in
						('13', '31', '23', '29', '30', '18', '17')
			)
			and not exists (
				select
					*
				from
					orders
				where
					o_custkey = c_custkey
			)
	) as custsale
group by
	cntrycode
order by
	cntrycode;
