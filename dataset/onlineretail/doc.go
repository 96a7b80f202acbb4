// Package onlineretail reads a shop's purchase log in the format of the UCI Online
// Retail data set: the one reader of that format, used by the service's import
// (`fusionrank import items|events --format online-retail`, through Items and
// Purchases) and by the offline evaluation (evaluation/retail).
//
// # Format and cleaning
//
// The log is tab-separated with a header naming at least InvoiceNo, StockCode,
// Description, Quantity, InvoiceDate (Unix nanoseconds, UTC), UnitPrice and
// CustomerID, in any order (gzip-compressed or plain). A row is kept as a purchase
// when it has a CustomerID, its InvoiceNo does not start with "C" (a cancellation),
// Quantity > 0 and UnitPrice > 0, and its StockCode, upper-cased, starts with a digit:
// that drops postage, discounts, manual lines, bank charges, samples, fees and gift
// vouchers (POST, D, M, BANK CHARGES, S, AMAZONFEE, gift_…, and the few DCGS… codes).
// A CustomerID written "17850.0" is "17850". On the UCI file that keeps 396,337 of
// 541,909 rows, 3,659 items and 4,334 customers.
//
// The catalogue is every stock code with a kept purchase; an item's text is its most
// frequent description and its price its UnitPrice on its last kept line. For the
// service, an item's id is "sku-" and its stock code, its title the description in
// lower case, its category the description's last word (the data set has none); a
// purchase's id is "or:<InvoiceNo>:<line>", so a second import stores nothing twice.
package onlineretail
