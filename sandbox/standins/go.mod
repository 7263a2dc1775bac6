module kboot/sandbox/standins

go 1.26
