output "site_url" {
  value = "https://${local.site_fqdn}/"
}

output "distribution_domain_name" {
  value = aws_cloudfront_distribution.web.domain_name
}

output "alb_dns_name" {
  value = module.alb.dns_name
}
