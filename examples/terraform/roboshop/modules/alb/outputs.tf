output "dns_name" {
  value = aws_lb.this.dns_name
}

output "zone_id" {
  value = aws_lb.this.zone_id
}

output "https_listener_arn" {
  value = aws_lb_listener.https.arn
}

output "target_group_arns" {
  value = merge({ frontend = aws_lb_target_group.frontend.arn }, { for k, tg in aws_lb_target_group.service : k => tg.arn })
}
